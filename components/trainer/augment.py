"""Train-only augmentation, run inside the Trainer's training step on each batch of the training split.

It is deliberately not part of the Transform graph (components/transform): that
graph is also the serving graph, and random ops there would randomise serving.

It runs on whole batches (`augment_batch`): each image still gets its own random draw of every
transform, but a batch costs one op of each kind, not one per image (bench/bench_augment.py,
docs/performance.md#augmentation-on-batches).

Where: `training_model()` puts it in front of the network as a layer that acts only when Keras trains
(fit's training step; validation, prediction and the exported network never run it). So the input
pipeline delivers the Transform's images and nothing more, and on a GPU node the augmentation runs on
the accelerator with the step instead of on the pod's CPU cores in tf.data; on a CPU it is the same
work on the same cores (docs/performance.md#augmentation-in-the-training-step).
"""
from __future__ import annotations

import dataclasses
import math

import tensorflow as tf
import tf_keras as keras

from schemas import features
from schemas.config import AugmentConfig

AUGMENTATION_LAYER = "train_augmentation"  # the layer training_model() puts in front of the network


def augments(cfg: AugmentConfig) -> bool:
    """Whether any augment.* knob is on (else the training model is the network itself)."""
    return (cfg.flip_left_right or cfg.flip_up_down or cfg.brightness > 0
            or (cfg.contrast_lower, cfg.contrast_upper) != (1.0, 1.0)
            or cfg.rotation_degrees > 0 or cfg.zoom > 0 or cfg.shift > 0)


@keras.utils.register_keras_serializable(package="imgpipe")
class TrainingAugmentation(keras.layers.Layer):
    """`augment_batch` when Keras calls the model with training=True (fit's training step); the identity
    otherwise (fit's validation, predict, evaluate). Has no weights."""

    def __init__(self, cfg: AugmentConfig, **kwargs):
        super().__init__(**kwargs)
        self.cfg = AugmentConfig(**cfg) if isinstance(cfg, dict) else cfg

    def get_config(self):  # the training model's config (TensorBoard's graph, model.to_json) names the policy
        return {**super().get_config(), "cfg": dataclasses.asdict(self.cfg)}

    def call(self, images, training=None):
        if training is None:
            training = keras.backend.learning_phase()
        if isinstance(training, (bool, int)):
            return augment_batch(images, self.cfg) if training else images
        return tf.cond(tf.cast(training, tf.bool), lambda: augment_batch(images, self.cfg), lambda: images)


def training_model(network: keras.Model, cfg: AugmentConfig) -> keras.Model:
    """What the Trainer fits: `network` behind a TrainingAugmentation layer, sharing its weights (so
    fitting this trains `network`, which is what gets exported, without the layer). `network` itself
    when augmentation is off."""
    if not augments(cfg):
        return network
    images = keras.Input(shape=network.input_shape[1:], dtype=network.inputs[0].dtype, name=features.IMAGE_XF_KEY)
    return keras.Model(images, network(TrainingAugmentation(cfg, name=AUGMENTATION_LAYER)(images)),
                       name=f"{network.name}_training")


def augment_image(image: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """One [H, W, C] image through `augment_batch` (the report's augmentation preview, the tests)."""
    return augment_batch(image[tf.newaxis], cfg)[0]


def augment_batch(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Random flips, brightness, contrast, rotation, zoom and shift, drawn per image of a [B, H, W, C] batch.

    Each transform is skipped when its knob in `cfg` is off. The result stays in [0, 1].
    Rotation and zoom (not the shift) are scaled by `geometric_strength`: gentler on images smaller than
    augment.full_strength_size (its default and why: schemas/config/training.py).
    """
    count = tf.shape(images)[0]
    if cfg.flip_left_right:
        images = _where_drawn(count, tf.reverse(images, axis=[2]), images)
    if cfg.flip_up_down:
        images = _where_drawn(count, tf.reverse(images, axis=[1]), images)
    images = _brightness_contrast(images, count, cfg)
    if cfg.rotation_degrees > 0 or cfg.zoom > 0 or cfg.shift > 0:
        strength = geometric_strength(int(images.shape[1]), cfg.full_strength_size)
        images = _random_rotate_zoom(images, cfg.rotation_degrees * strength, cfg.zoom * strength, cfg.shift)
    return tf.clip_by_value(images, 0.0, 1.0)


def _brightness_contrast(images: tf.Tensor, count: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Brightness (as tf.image.random_brightness: one delta d added to every pixel of an image), then
    contrast (as tf.image.adjust_contrast: each channel pulled to or from its mean m by a factor f), in
    one pass over the pixels: (x + d - (m + d)) * f + (m + d) = x * f + (m * (1 - f) + d), where m is
    the mean before brightness. Drawn in the same order as two separate steps would draw them."""
    delta = None
    if cfg.brightness > 0:
        delta = _per_image(tf.random.uniform([count], -cfg.brightness, cfg.brightness))
    if (cfg.contrast_lower, cfg.contrast_upper) == (1.0, 1.0):
        return images if delta is None else images + delta
    means = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    factors = _per_image(tf.random.uniform([count], cfg.contrast_lower, cfg.contrast_upper))
    offsets = means * (1.0 - factors)
    return images * factors + (offsets if delta is None else offsets + delta)


def geometric_strength(image_size: int, full_strength_size: int) -> float:
    """Share of augment.rotation_degrees / augment.zoom applied at this size: min(1, size / full_strength_size)."""
    return min(1.0, image_size / full_strength_size)


def _per_image(values: tf.Tensor) -> tf.Tensor:
    return values[:, tf.newaxis, tf.newaxis, tf.newaxis]


def _where_drawn(count: tf.Tensor, changed: tf.Tensor, unchanged: tf.Tensor) -> tf.Tensor:
    """`changed` for a random half of the images (a fair coin each), `unchanged` for the others."""
    return tf.where(_per_image(tf.random.uniform([count]) < 0.5), changed, unchanged)


def _random_rotate_zoom(images: tf.Tensor, max_degrees: float, max_zoom: float, max_shift: float = 0.0) -> tf.Tensor:
    """Rotate each image by up to +-max_degrees and zoom by up to +-max_zoom about the centre, then shift by
    up to +-max_shift of the side along each axis.

    One projective transform per image does all three (one op for the batch), with edge pixels
    repeated into the corners so no black wedges appear that the model could learn from.
    """
    count = tf.shape(images)[0]
    angle = tf.random.uniform([count], -max_degrees, max_degrees) * (math.pi / 180.0)
    scale = tf.random.uniform([count], 1.0 - max_zoom, 1.0 + max_zoom)
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2):
    # the inverse of "rotate by angle and scale by `scale` about the centre".
    shift_x = tf.random.uniform([count], -max_shift, max_shift) * width
    shift_y = tf.random.uniform([count], -max_shift, max_shift) * height
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    zeros = tf.zeros([count])
    transforms = tf.stack([cos, -sin, cx - cos * (cx + shift_x) + sin * (cy + shift_y),
                           sin, cos, cy - sin * (cx + shift_x) - cos * (cy + shift_y), zeros, zeros], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")
    return tf.reshape(out, tf.shape(images))
