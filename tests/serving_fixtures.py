"""A small real SavedModel with this project's serving contract, built without training.

The "model" calls the dominant colour channel (tests/fixtures.py COLOUR_CLASSES
order: red, green, blue by channel), through the same two signatures, outputs,
labels.txt asset, warmup file and expected answers as the Trainer's export.
"""
import os

import tensorflow as tf

from components.trainer.warmup import write_warmup
from schemas import features
from tests.fixtures import encoded_colour_image

CHANNEL_CLASSES = ["red", "green", "blue"]  # class_id == dominant channel


def serialized_example(encoded: bytes) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    })).SerializeToString()


class ColourModel(tf.Module):
    def __init__(self, labels_path: str, temperature: float = 10.0):
        super().__init__()
        self.temperature = tf.Variable(temperature)
        self.class_names = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(labels_path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                                          tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")

    def probabilities(self, image_bytes):
        images = tf.map_fn(lambda b: tf.cast(tf.io.decode_png(b, channels=3), tf.float32) / 255.0,
                           image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.float32))
        return tf.nn.softmax(tf.reduce_mean(images, axis=[1, 2]) * self.temperature)

    def answer(self, image_bytes):
        probabilities = self.probabilities(image_bytes)
        class_id = tf.argmax(probabilities, axis=-1)
        return {features.PROBABILITIES_OUTPUT: probabilities, features.CLASS_ID_OUTPUT: class_id,
                features.CLASS_NAME_OUTPUT: self.class_names.lookup(class_id)}


def save_colour_model(path: str, classes=CHANNEL_CLASSES, with_bytes_signature: bool = True,
                      skew: float = 0.0) -> str:
    """Export the colour model with warmup; `skew` shifts the recorded trained-model answers."""
    labels = os.path.join(os.path.dirname(path), "labels.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(labels, "wb") as f:
        f.write(b"".join(c.encode() + b"\n" for c in classes))
    model = ColourModel(labels)
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
    expected = model.probabilities(tf.constant(images)).numpy() + skew
    write_warmup(path, [serialized_example(i) for i in images], "colour", expected)
    return path


def class_list(classes=CHANNEL_CLASSES):
    return [c.encode() for c in classes]


