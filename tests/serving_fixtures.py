"""Small real SavedModels with this project's serving contract, built without training.

- The colour model calls the dominant colour channel (tests/fixtures.py COLOUR_CLASSES
  order: red, green, blue by channel), through the same two signatures, outputs,
  serving guard, labels.txt asset, warmup file and expected answers as the Trainer's export.
- `export_trainer_model`: the Trainer's own export (make_serving_signatures) of an untrained
  Keras model around a real Transform graph (components/transform/standalone.py).
"""
import os

import tensorflow as tf

from components.trainer.serving_guard import guard
from components.trainer.spec import ServingLimits
from components.trainer.warmup import write_warmup
from schemas import features
from schemas.config import build_config
from tests.fixtures import encoded_colour_image

DEFAULT_LIMITS = ServingLimits.from_config(build_config())

CHANNEL_CLASSES = ["red", "green", "blue"]  # class_id == dominant channel


def serialized_example(encoded: bytes) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    })).SerializeToString()


class ColourModel(tf.Module):
    def __init__(self, labels_path: str, temperature: float = 10.0, guarded: bool = True,
                 limits: ServingLimits = DEFAULT_LIMITS):
        super().__init__()
        self.guarded, self.limits = guarded, limits
        self.temperature = tf.Variable(temperature)
        self.class_names = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(labels_path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                                          tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")

    def probabilities(self, image_bytes):
        if self.guarded:
            image_bytes = guard(image_bytes, self.limits)
        images = tf.map_fn(lambda b: tf.cast(tf.io.decode_png(b, channels=3), tf.float32) / 255.0,
                           image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.float32))
        return tf.nn.softmax(tf.reduce_mean(images, axis=[1, 2]) * self.temperature)

    def answer(self, image_bytes):
        probabilities = self.probabilities(image_bytes)
        class_id = tf.argmax(probabilities, axis=-1)
        return {features.PROBABILITIES_OUTPUT: probabilities, features.CLASS_ID_OUTPUT: class_id,
                features.CLASS_NAME_OUTPUT: self.class_names.lookup(class_id)}


def save_colour_model(path: str, classes=CHANNEL_CLASSES, with_bytes_signature: bool = True,
                      skew: float = 0.0, guarded: bool = True, limits: ServingLimits = DEFAULT_LIMITS) -> str:
    """Export the colour model with warmup; `skew` shifts the recorded trained-model answers;
    `guarded=False` leaves out the serving guard (a model exported before issue 25)."""
    labels = os.path.join(os.path.dirname(path), "labels.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(labels, "wb") as f:
        f.write(b"".join(c.encode() + b"\n" for c in classes))
    model = ColourModel(labels, guarded=guarded, limits=limits)
    by_bytes = tf.function(model.answer, input_signature=[tf.TensorSpec([None], tf.string, name=features.BYTES_INPUT)])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
    def by_example(examples):
        spec = {features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
        return model.answer(tf.io.parse_example(examples, spec)[features.IMAGE_KEY])

    signatures = {features.EXAMPLES_SIGNATURE: by_example.get_concrete_function()}
    if with_bytes_signature:
        signatures[features.BYTES_SIGNATURE] = by_bytes.get_concrete_function()
    tf.saved_model.save(model, path, signatures=signatures)
    images = [encoded_colour_image(name, seed=i) for i, name in enumerate(["red", "green", "blue"])]
    expected = tf.concat([model.probabilities(tf.constant([i])) for i in images], axis=0).numpy() + skew
    write_warmup(path, [serialized_example(i) for i in images], "colour", expected)
    return path


def class_list(classes=CHANNEL_CLASSES):
    return [c.encode() for c in classes]




def export_trainer_model(path: str, tft_output, classes, limits: ServingLimits = DEFAULT_LIMITS, model=None) -> str:
    """The Trainer's export (make_serving_signatures + model.save) of `model`, by default an untrained
    pooling + softmax head: the served graph is the real one, only the weights are not."""
    import tf_keras as keras

    from components.trainer.serving import make_serving_signatures, save_served_model

    if model is None:
        model = keras.Sequential([keras.layers.GlobalAveragePooling2D(input_shape=(None, None, 3)),
                                  keras.layers.Dense(len(classes), activation="softmax",
                                                     name=features.PROBABILITIES_OUTPUT)])
    labels = os.path.join(os.path.dirname(path), "labels.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(labels, "w") as f:
        f.write("".join(c + "\n" for c in classes))
    save_served_model(model, path, make_serving_signatures(model, tft_output, labels, limits))
    return path
