"""Train-only augmentation, applied by the Trainer's tf.data pipeline to the training split.

It is deliberately not part of the Transform graph (components/transform): that
graph is also the serving graph, and random ops there would randomise serving.
"""
from __future__ import annotations

import math

import tensorflow as tf

from schemas.config import AugmentConfig


def augment_image(image: tf.Tensor, cfg: AugmentConfig, seed: int | None = None) -> tf.Tensor:
    """Random flips, brightness, contrast, rotation, zoom and shift for one [H, W, 3] image.

    Each transform is skipped when its knob in `cfg` is off. The result stays in [0, 1].
    Rotation and zoom (not the shift) are scaled by `geometric_strength`: on a 28 px digit a
    stroke is 2-3 px wide, and the blur of resampling plus a few pixels of
    displacement change it far more than the same transform on a 224 px photo.
    """
    if cfg.flip_left_right:
        image = tf.image.random_flip_left_right(image, seed=seed)
    if cfg.flip_up_down:
        image = tf.image.random_flip_up_down(image, seed=seed)
    if cfg.brightness > 0:
        image = tf.image.random_brightness(image, cfg.brightness, seed=seed)
    if (cfg.contrast_lower, cfg.contrast_upper) != (1.0, 1.0):
        image = tf.image.random_contrast(image, cfg.contrast_lower, cfg.contrast_upper, seed=seed)
    if cfg.rotation_degrees > 0 or cfg.zoom > 0 or cfg.shift > 0:
        strength = geometric_strength(int(image.shape[0]), cfg.full_strength_size)
        image = _random_rotate_zoom(image, cfg.rotation_degrees * strength, cfg.zoom * strength, cfg.shift)
    return tf.clip_by_value(image, 0.0, 1.0)


def geometric_strength(image_size: int, full_strength_size: int) -> float:
    """Share of augment.rotation_degrees / augment.zoom applied at this size: min(1, size / full_strength_size)."""
    return min(1.0, image_size / full_strength_size)


def _random_rotate_zoom(image: tf.Tensor, max_degrees: float, max_zoom: float, max_shift: float = 0.0) -> tf.Tensor:
    """Rotate by up to +-max_degrees and zoom by up to +-max_zoom about the centre, then shift by up to
    +-max_shift of the side along each axis.

    One projective transform does all three, with edge pixels repeated into the
    corners so no black wedges appear that the model could learn from.
    """
    angle = tf.random.uniform([], -max_degrees, max_degrees) * (math.pi / 180.0)
    scale = tf.random.uniform([], 1.0 - max_zoom, 1.0 + max_zoom)
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2):
    # the inverse of "rotate by angle and scale by `scale` about the centre".
    shift_x = tf.random.uniform([], -max_shift, max_shift) * width
    shift_y = tf.random.uniform([], -max_shift, max_shift) * height
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    transform = tf.stack([cos, -sin, cx - cos * (cx + shift_x) + sin * (cy + shift_y),
                          sin, cos, cy - sin * (cx + shift_x) - cos * (cy + shift_y), 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis], transforms=transform[tf.newaxis],
        output_shape=tf.shape(image)[:2], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")
    return tf.reshape(out[0], tf.shape(image))
