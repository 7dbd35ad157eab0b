"""Image preprocessing: the deterministic Transform graph and train-only augmentation.

`preprocessing_fn` runs inside tf.Transform. Its graph is saved with the
Transform output and re-used inside the model's serving signatures, so the
pixels a served model sees are prepared by exactly the same ops as in training.

Augmentation lives here too, next to the deterministic steps, but it is NOT
part of the Transform graph: random ops there would randomise serving as well.
The Trainer applies `augment_image` to the training split only, in its tf.data
pipeline.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf

from components import features

# tf.Transform passes no arguments but `inputs` (and an optional custom_config);
# the Transform component gets the image size through custom_config.
_DEFAULT_IMAGE_SIZE = 64


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
    image_size = int((custom_config or {}).get("image_size", _DEFAULT_IMAGE_SIZE))
    outputs = {features.IMAGE_XF_KEY: preprocess_images(inputs[features.IMAGE_KEY], image_size)}
    if features.LABEL_KEY in inputs:
        outputs[features.LABEL_XF_KEY] = tf.reshape(inputs[features.LABEL_KEY], [-1])
    return outputs


def augment_image(image: tf.Tensor, cfg, seed: int | None = None) -> tf.Tensor:
    """Random flips, brightness, contrast, rotation and zoom for one [H, W, 3] image.

    `cfg` is an AugmentConfig; each transform is skipped when its knob is off.
    The result stays in [0, 1].
    """
    if cfg.flip_left_right:
        image = tf.image.random_flip_left_right(image, seed=seed)
    if cfg.flip_up_down:
        image = tf.image.random_flip_up_down(image, seed=seed)
    if cfg.brightness > 0:
        image = tf.image.random_brightness(image, cfg.brightness, seed=seed)
    if (cfg.contrast_lower, cfg.contrast_upper) != (1.0, 1.0):
        image = tf.image.random_contrast(image, cfg.contrast_lower, cfg.contrast_upper, seed=seed)
    if cfg.rotation_degrees > 0 or cfg.zoom > 0:
        image = _random_rotate_zoom(image, cfg.rotation_degrees, cfg.zoom)
    return tf.clip_by_value(image, 0.0, 1.0)


def _random_rotate_zoom(image: tf.Tensor, max_degrees: float, max_zoom: float) -> tf.Tensor:
    """Rotate by up to +-max_degrees and zoom by up to +-max_zoom about the centre.

    One projective transform does both, with edge pixels repeated into the
    corners so no black wedges appear that the model could learn from.
    """
    angle = tf.random.uniform([], -max_degrees, max_degrees) * (math.pi / 180.0)
    scale = tf.random.uniform([], 1.0 - max_zoom, 1.0 + max_zoom)
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2):
    # the inverse of "rotate by angle and scale by `scale` about the centre".
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                          sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis], transforms=transform[tf.newaxis],
        output_shape=tf.shape(image)[:2], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")
    return tf.reshape(out[0], tf.shape(image))
