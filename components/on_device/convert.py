"""The trained network as TFLite: a float-input model on the transformed image, float32 and int8.

The pushed SavedModel does not convert (its signatures parse tf.Examples, decode images and resize
with antialiasing: ParseExample, DecodeImage and ScaleAndTranslate are not TFLite ops, not even
through Flex). The Keras network inside it does: it takes what the Transform graph produces,
float32 [size, size, 3] in [0, 1], so the device does that preprocessing itself, as
`preprocessing.json` says (`preprocessing_facts`). int8 is full-integer post-training quantization
calibrated on train-split images (never test or golden: those judge it); its input and output stay
float32, so both files are called alike.
"""
from __future__ import annotations

import tempfile
from typing import Callable, Dict, Iterable, List

import numpy as np
import tensorflow as tf
import tf_keras as keras

import components.trainer.backbones  # noqa: F401  registers CaffeInput, which a pretrained backbone's model holds
from components.on_device.spec import FLOAT, INT8
from schemas import features


def load_network(saved_model_dir: str) -> keras.Model:
    """The trained network, loaded once: converted here, and its `serving_bytes` signature judged against."""
    return keras.models.load_model(saved_model_dir, compile=False)


def save_forward_pass(network: keras.Model, image_size: int, folder: str) -> str:
    """A lean SavedModel of the network's forward pass on one [1, size, size, 3] float image (what TFLite
    wants), which every variant converts from. `TFLiteConverter.from_keras_model` writes a Keras SavedModel
    of its own for each conversion, and Keras traces every layer to save one: ~6 s per variant on the
    digits model here, against ~0.5 s for this save plus ~0.5 s per conversion, with the same flatbuffer
    (docs/performance.md)."""
    module = tf.Module()
    module.network_variables = list(network.variables)  # tracked, so the function's captured variables are saved
    module.forward = tf.function(lambda image: network(image, training=False), input_signature=[
        tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name=features.IMAGE_XF_KEY)])
    tf.saved_model.save(module, folder, signatures=module.forward)
    return folder


def convert(saved_forward_pass: str, variant: str, representative: Callable[[], Iterable[List[np.ndarray]]]) -> bytes:
    """The TFLite flatbuffer of a saved forward pass: float32, or int8 weights and activations (float32 in and out)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_forward_pass)
    if variant == INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif variant != FLOAT:
        raise ValueError(f"unknown TFLite variant {variant!r}; expected {FLOAT} or {INT8}")
    return converter.convert()


def representative_data(images: np.ndarray) -> Callable[[], Iterable[List[np.ndarray]]]:
    """The converter's calibration feed: one transformed image at a time."""
    def feed():
        for image in images:
            yield [image[None].astype(np.float32)]
    return feed


def convert_all(network: keras.Model, image_size: int, variants: Iterable[str],
                train_images: np.ndarray) -> Dict[str, bytes]:
    """{variant: flatbuffer} for each of `variants` (serving.tflite)."""
    with tempfile.TemporaryDirectory(prefix="imgpipe-tflite-") as folder:
        save_forward_pass(network, image_size, folder)
        return {v: convert(folder, v, representative_data(train_images)) for v in variants}


def preprocessing_facts(image_size: int) -> dict:
    """What a device must do to an image before either model: exactly the Transform graph's steps
    (components/transform/preprocessing.py decode_and_resize), written as `preprocessing.json`."""
    return {
        "input": {"name": features.IMAGE_XF_KEY, "shape": [1, image_size, image_size, 3], "dtype": "float32"},
        "decode": "any of JPEG/PNG/GIF/BMP to RGB, 3 channels: grey replicated, alpha dropped, first GIF frame",
        "channel_order": "RGB",
        "layout": "NHWC",
        "scaling": {"divide_by": 255.0, "range": [0.0, 1.0], "when": "before resizing, on the 8-bit pixels"},
        "resize": {"method": "bilinear", "antialias": True, "width": image_size, "height": image_size,
                   "keep_aspect_ratio": False, "crop": None,
                   "tensorflow": f"tf.image.resize(image, [{image_size}, {image_size}], antialias=True)"},
        "clip": [0.0, 1.0],
        "output": {"name": features.PROBABILITIES_OUTPUT, "shape": [1, None], "dtype": "float32",
                   "meaning": "softmax probabilities; index i is line i of labels.txt"},
    }
