"""The residual CNN the Trainer fits, built from `ModelConfig` one knob at a time.

The network reads the transformed image (`features.IMAGE_XF_KEY`, float32 in [0, 1]) and
returns softmax probabilities over the classes:

    stem    conv(stem_kernel_size, stem_stride) -> norm/act
    stage   downsample="pool":   [transition conv if the width changes] -> MaxPool -> blocks
            downsample="stride": first block strided, 1x1 projection on its shortcut -> blocks
    block   conv -> norm/act -> conv -> norm -> Add(shortcut) -> ReLU
    head    Flatten | GAP -> [LayerNorm] -> [Dense relu] -> [Dropout] -> Dense softmax

`batch_norm` decides where normalisation goes:
    "none"               conv(activation="relu")      one layer, as in the seed article
    "before_activation"  conv(no bias) -> BN -> ReLU  BN's shift replaces the bias
    "after_activation"   conv -> ReLU -> BN
The last conv of a block has no activation of its own: the ReLU comes after the Add. With
"before_activation" its BN sits before the Add; with "after_activation" the BN follows the
post-Add ReLU, so each block still ends in ReLU -> BN. A 1x1 projection shortcut gets a BN
exactly when the body's last conv does ("before_activation"), so both Add inputs are on the
same scale.

With batch_norm="none", downsample="pool" and head="flatten" (the `seed` preset) the layers are
those of the seed article's `build_cnn`, one for one.
"""
from __future__ import annotations

from typing import Optional

import tf_keras as keras
from tf_keras import layers

from schemas import features
from schemas.config import AUTO, ModelConfig

# Keras' default BN momentum (0.99) suits long runs on big data. Our runs are a few hundred steps:
# at 0.99 the moving statistics used at inference still carry their initial values after 5 epochs,
# so eval accuracy lags far behind train accuracy and early stopping keeps a bad epoch (sklearn
# digits at 64x64, bench/bench_presets.py: 27.5% eval accuracy at 0.99, 99.2% at 0.9).
BN_MOMENTUM = 0.9


class FeatureMapTooSmall(ValueError):
    """A layer would get a feature map smaller than its window (only possible with valid padding)."""


# model.stem_stride=auto: a stride-1 stem costs ~2x the training time of a stride-2 one here, so it is kept
# for where it pays:
# - few images: full resolution is what lets the network learn (docs/model.md#small-batches: demo batches of
#   240 training images, 0.85 -> 0.99 held-out accuracy). Up to this many pixels per epoch (images x side²):
AUTO_STEM_MAX_PIXELS = 2_000_000
# - small images, whatever their number: a stride-2 stem and three stride-2 stages leave a 32 px image a 2x2
#   map, and the strokes that tell 28 px digits apart are lost in the stem (8,000 MNIST-sized digits, 3 seeds:
#   0.986 at stride 2, 0.991 at stride 1, mean of held-out accuracy; docs/real_data.md). Up to this side:
AUTO_STEM_MAX_SIDE = 32


def stem_stride(cfg: ModelConfig, image_size: int, train_images: Optional[int] = None) -> int:
    """model.stem_stride, with `auto` resolved from the image side and the train split's size (above)."""
    if cfg.stem_stride != AUTO:
        return int(cfg.stem_stride)
    few = train_images is not None and train_images * image_size ** 2 <= AUTO_STEM_MAX_PIXELS
    return 1 if few or image_size <= AUTO_STEM_MAX_SIDE else 2


def build_model(cfg: ModelConfig, image_size: int, num_classes: int, train_images: Optional[int] = None) -> keras.Model:
    """Image in [0, 1] -> class probabilities, shaped by `cfg`; `train_images` resolves model.stem_stride=auto."""
    if num_classes < 2:
        raise ValueError(f"the model needs at least 2 classes to tell apart, got num_classes={num_classes}")
    inputs = keras.Input(shape=(image_size, image_size, 3), dtype="float32", name=features.IMAGE_XF_KEY)
    try:
        x = conv_norm_act(inputs, cfg, cfg.stem_filters, cfg.stem_kernel_size,
                          stem_stride(cfg, image_size, train_images), "stem")
        for index, (filters, stride) in enumerate(zip(cfg.stage_filters, cfg.stage_strides), start=1):
            x = stage(x, cfg, filters, stride, f"stage{index}")
    except FeatureMapTooSmall as err:
        raise ValueError(
            f"model.padding={cfg.padding!r} with image_size={image_size} shrinks the feature maps to "
            f"nothing: {err}. Use model.padding='same', a larger data.image_size, or fewer/shallower "
            f"model.stage_filters / model.blocks_per_stage.") from None
    outputs = head(x, cfg, num_classes)
    return keras.Model(inputs, outputs, name=f"resnet_{cfg.preset}")


# --------------------------------------------------------------------------- stages

def stage(x, cfg: ModelConfig, filters: int, stride: int, name: str):
    """One resolution level: downsample once by `stride`, then `blocks_per_stage` residual blocks."""
    if cfg.downsample == "pool":
        return _pool_stage(x, cfg, filters, stride, name)
    for block in range(1, cfg.blocks_per_stage + 1):
        x = residual_block(x, cfg, filters, stride if block == 1 else 1, f"{name}_block{block}")
    return x


def _pool_stage(x, cfg: ModelConfig, filters: int, stride: int, name: str):
    """Seed style: widen with a plain conv, halve with MaxPool, then keep the shape in the blocks.

    The pool keeps Keras' default "valid" padding, as the seed's `MaxPooling2D(2)` does.
    """
    if filters != x.shape[-1]:
        x = conv_norm_act(x, cfg, filters, cfg.kernel_size, 1, f"{name}_transition")
    if stride > 1:
        _check_window_fits(x, stride, "valid", f"{name}_pool")
        x = layers.MaxPooling2D(stride, name=f"{name}_pool")(x)
    for block in range(1, cfg.blocks_per_stage + 1):
        x = residual_block(x, cfg, filters, 1, f"{name}_block{block}")
    return x


def residual_block(x, cfg: ModelConfig, filters: int, stride: int, name: str):
    """Two convs plus a shortcut: the block only has to learn a correction to its input."""
    y = conv_norm_act(x, cfg, filters, cfg.kernel_size, stride, f"{name}_1")
    y = conv_norm(y, cfg, filters, cfg.kernel_size, 1, f"{name}_2")
    shortcut = _crop_to(_shortcut(x, cfg, filters, stride, name), y.shape, f"{name}_crop")
    x = layers.Add(name=f"{name}_add")([y, shortcut])
    x = layers.ReLU(name=f"{name}_relu")(x)
    if cfg.batch_norm == "after_activation":
        x = batch_norm(name=f"{name}_bn")(x)
    return x


def _shortcut(x, cfg: ModelConfig, filters: int, stride: int, name: str):
    """Identity when the block keeps the shape; else a 1x1 conv that matches width and stride."""
    if stride == 1 and x.shape[-1] == filters:
        return x
    with_bn = cfg.batch_norm == "before_activation"
    x = layers.Conv2D(filters, 1, strides=stride, use_bias=not with_bn, name=f"{name}_proj_conv")(x)
    if with_bn:
        x = batch_norm(name=f"{name}_proj_bn")(x)
    return x


def _crop_to(x, shape, name: str):
    """Centre-crop the shortcut to the body's size: "valid" convs shrink the body, not the shortcut."""
    extra_h, extra_w = x.shape[1] - shape[1], x.shape[2] - shape[2]
    if extra_h == 0 and extra_w == 0:
        return x
    crop = ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2))
    return layers.Cropping2D(crop, name=name)(x)


# --------------------------------------------------------------------------- conv units

def conv_norm_act(x, cfg: ModelConfig, filters: int, kernel_size: int, stride: int, name: str):
    """Conv followed by ReLU, with BN where `cfg.batch_norm` puts it."""
    if cfg.batch_norm == "none":  # one layer, exactly like the seed's Conv2D(..., activation="relu")
        return _conv(x, cfg, filters, kernel_size, stride, name, activation="relu")
    if cfg.batch_norm == "before_activation":
        x = _conv(x, cfg, filters, kernel_size, stride, name, use_bias=False)
        x = batch_norm(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)
    x = _conv(x, cfg, filters, kernel_size, stride, name)
    x = layers.ReLU(name=f"{name}_relu")(x)
    return batch_norm(name=f"{name}_bn")(x)


def conv_norm(x, cfg: ModelConfig, filters: int, kernel_size: int, stride: int, name: str):
    """A block's last conv: no activation, since the ReLU comes after the residual Add."""
    if cfg.batch_norm != "before_activation":
        return _conv(x, cfg, filters, kernel_size, stride, name)
    x = _conv(x, cfg, filters, kernel_size, stride, name, use_bias=False)
    return batch_norm(name=f"{name}_bn")(x)


def batch_norm(name: str) -> layers.BatchNormalization:
    """Every BN layer of the network, so they all share BN_MOMENTUM."""
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _conv(x, cfg: ModelConfig, filters: int, kernel_size: int, stride: int, name: str,
          activation=None, use_bias: bool = True):
    _check_window_fits(x, kernel_size, cfg.padding, f"{name}_conv")
    return layers.Conv2D(filters, kernel_size, strides=stride, padding=cfg.padding,
                         activation=activation, use_bias=use_bias, name=f"{name}_conv")(x)


def _check_window_fits(x, window: int, padding: str, name: str) -> None:
    """Fail with the layer's name before Keras fails with a negative-dimension error."""
    height, width = int(x.shape[1]), int(x.shape[2])
    if padding == "valid" and min(height, width) < window:
        raise FeatureMapTooSmall(f"layer {name!r} would see a {height}x{width} feature map "
                                 f"through a {window}x{window} window")


# --------------------------------------------------------------------------- head

def head(x, cfg: ModelConfig, num_classes: int):
    """Feature maps -> one vector -> class probabilities."""
    if cfg.head == "gap":
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    else:
        x = layers.Flatten(name="head_flatten")(x)
    if cfg.layer_norm:
        x = layers.LayerNormalization(name="head_layer_norm")(x)
    if cfg.dense_units > 0:
        x = layers.Dense(cfg.dense_units, activation="relu", name="head_dense")(x)
    if cfg.dropout > 0:
        x = layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name=features.PROBABILITIES_OUTPUT)(x)
