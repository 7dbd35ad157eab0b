"""The serving contract of the exported SavedModel.

Two signatures, both running the saved Transform graph before the model, so
serving preprocessing cannot drift from training:

- `serving_default`: serialized tf.Examples in (`examples`). TFMA feeds the
  Evaluator through it, and batch clients that already hold tf.Examples use it.
- `serving_bytes`: raw encoded image bytes in (`image_bytes`). The name ends in
  `_bytes`, so TF Serving's REST API accepts `{"image_bytes": {"b64": "..."}}`.

Both return `probabilities` [N, C], `class_id` [N] and `class_name` [N]. The
class names come from labels.txt, stored as a SavedModel asset. Both refuse a
request that breaks `serving.max_*` before decoding any image in it
(serving_guard.py).
"""
from __future__ import annotations

from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft

from components.trainer.serving_guard import guard
from components.trainer.spec import ServingLimits
from schemas import features


def save_served_model(model, path: str, signatures: Dict) -> None:
    """The SavedModel every consumer loads: the Keras model with its serving `signatures`.

    Without Keras' per-layer call traces (`save_traces=False`): the signatures are traced and saved all the
    same, and Keras rebuilds the layers from their configs when it loads the model (warm start, the
    on-device conversion, the report's Grad-CAM), so every layer must be serializable, which the
    backbones' and the trainer's own layers are (keras.utils.register_keras_serializable). Measured on
    the bench's 32 px network without signatures: the save 2.27 -> 0.59 s, `tf.saved_model.load`
    0.60 -> 0.21 s, the same outputs.
    """
    model.save(path, save_format="tf", signatures=signatures, save_traces=False)


def make_serving_signatures(model, tft_output: tft.TFTransformOutput, labels_path: str,
                            limits: ServingLimits) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    # Attached to the model so the SavedModel tracks them (and copies labels.txt into assets/).
    model.tft_layer = tft_output.transform_features_layer()
    model.class_names = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            labels_path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
        default_value="")
    image_spec = tft_output.raw_feature_spec()[features.IMAGE_KEY]

    def predict(raw_images: tf.Tensor) -> Dict[str, tf.Tensor]:
        raw_images = tf.reshape(guard(raw_images, limits), tf.shape(raw_images))  # refused: never decoded
        transformed = model.tft_layer({features.IMAGE_KEY: raw_images})
        probabilities = model(transformed[features.IMAGE_XF_KEY])
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            features.PROBABILITIES_OUTPUT: probabilities,
            features.CLASS_ID_OUTPUT: class_id,
            features.CLASS_NAME_OUTPUT: model.class_names.lookup(class_id),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
    def serve_examples(examples):
        parsed = tf.io.parse_example(examples, {features.IMAGE_KEY: image_spec})
        return predict(parsed[features.IMAGE_KEY])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.BYTES_INPUT)])
    def serve_bytes(image_bytes):
        shape = tf.concat([[-1], tf.constant(image_spec.shape, tf.int32)], axis=0)
        return predict(tf.reshape(image_bytes, shape))

    return {
        features.EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
        features.BYTES_SIGNATURE: serve_bytes.get_concrete_function(),
    }
