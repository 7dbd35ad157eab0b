"""Image preprocessing: the deterministic Transform graph.

`preprocessing_fn` runs inside tf.Transform. Its graph is saved with the
Transform output and re-used inside the model's serving signatures, so the
pixels a served model sees are prepared by exactly the same ops as in training.

Augmentation is NOT here: random ops in this graph would randomise serving as
well. The Trainer augments the training split only (components/trainer/augment.py).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf

from schemas import features

# Transform's executor passes TransformSettings as custom_config, `image_size` resolved to an int.
IMAGE_SIZE_KEY = "image_size"  # the TransformSettings field preprocessing_fn reads


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes -> uint8 [H, W, 3]: grey replicated, alpha dropped, GIF frame 1.

    Ingestion decodes each file with this very function, so whatever it admits
    is readable in training and at serving.
    """
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def decode_and_resize(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
    """One encoded image (JPEG/PNG/GIF/BMP bytes) -> float32 [size, size, 3] in [0, 1].

    Scaling to [0, 1] happens on the uint8 image, before resizing:
    `convert_image_dtype` only rescales integer inputs, so calling it after
    `tf.image.resize` (which already returns float32) would leave 0..255.
    """
    image = tf.image.convert_image_dtype(decode_rgb(encoded), tf.float32)
    image = tf.image.resize(image, [image_size, image_size], antialias=True)
    image = tf.clip_by_value(image, 0.0, 1.0)
    image.set_shape([image_size, image_size, 3])
    return image


def preprocess_images(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
    """A batch of encoded images, shape [N] or [N, 1] -> float32 [N, size, size, 3]."""
    encoded = tf.reshape(encoded, [-1])
    return tf.map_fn(
        lambda e: decode_and_resize(e, image_size),
        encoded,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
    )


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Dict[str, Any] | None = None) -> Dict[str, tf.Tensor]:
    """tf.Transform entry point: decode, force 3 channels, resize, scale; label passes through."""
    if not isinstance((custom_config or {}).get(IMAGE_SIZE_KEY), int):
        raise ValueError(f"preprocessing_fn needs an integer custom_config[{IMAGE_SIZE_KEY!r}], got "
                         f"{(custom_config or {}).get(IMAGE_SIZE_KEY)!r}: run it through the Transform step "
                         "(components/transform/component.py), which resolves data.image_size=auto")
    image_size = int(custom_config[IMAGE_SIZE_KEY])
    outputs = {features.IMAGE_XF_KEY: preprocess_images(inputs[features.IMAGE_KEY], image_size)}
    if features.LABEL_KEY in inputs:
        outputs[features.LABEL_XF_KEY] = tf.reshape(inputs[features.LABEL_KEY], [-1])
    return outputs
