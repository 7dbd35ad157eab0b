"""The backbones `model.backbone` names, and the config rules that tie them to other keys.

One place for each backbone's facts, read by the config's validation (no TensorFlow here), the
Transform's `data.image_size=auto` floor and the Trainer (components/trainer/backbones.py):

- `keras_class`: the tf_keras.applications constructor ("" for our own residual CNN);
- `imagenet_file`: the file Keras downloads for `weights="imagenet", include_top=False` and keeps
  in its cache, `$KERAS_HOME/models/` (default `~/.keras/models/`);
- `min_size`: the smallest side the network takes at all: the Keras applications downsample 32x
  (Keras' own `min_size=32`);
- `auto_floor`: the smallest side `data.image_size=auto` picks (docs/model.md#backbones): ImageNet
  features are learned at 224 px and fade on much smaller inputs, so tiny images are upsampled;
- `onednn_avx512`: trained clean with oneDNN's AVX-512 kernels, so a run may lift the AVX2 cap for it
  (schemas/runtime.py; docs/performance.md#the-keras-applications-backbones-2026-12-08). False for
  resnet_cnn, whose own filter counts decide instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

RESNET_CNN = "resnet_cnn"
WEIGHTS_AUTO, WEIGHTS_IMAGENET, WEIGHTS_NONE = "auto", "imagenet", "none"
WEIGHTS_FILE_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class Backbone:
    name: str
    keras_class: str
    imagenet_file: str
    min_size: int
    auto_floor: int
    onednn_avx512: bool


BACKBONES = {b.name: b for b in (
    Backbone(RESNET_CNN, "", "", 8, 0, False),  # floor 0: data.image_size_auto_min alone decides
    # 96: the smallest size Keras publishes MobileNet weights for (MobileNetV2 96..224); ~10 MFLOPs an image.
    Backbone("mobilenet_v3_small", "MobileNetV3Small",
             "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", 32, 96, True),
    # 128: the smallest size EfficientNetV2's progressive training starts from.
    Backbone("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnetv2-b0_notop.h5", 32, 128, True),
    # 128: ResNet50 at 224 px costs 4.1 GFLOPs an image; at 128 a third of that, with objects at a scale
    # its random-resized-crop training has seen.
    Backbone("resnet50", "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", 32, 128, True),
)}

# model.* keys that shape our residual CNN only: with a Keras applications backbone they would be ignored.
RESNET_CNN_KEYS = ("preset", "stem_filters", "stem_kernel_size", "stem_stride", "padding", "stage_filters",
                   "stage_strides", "blocks_per_stage", "kernel_size", "downsample", "batch_norm")


def weights_source(model_cfg: Any) -> str:
    """`model.backbone_weights` with `auto` resolved: `imagenet` for Keras applications, `none` for resnet_cnn."""
    if model_cfg.backbone_weights != WEIGHTS_AUTO:
        return model_cfg.backbone_weights
    return WEIGHTS_NONE if model_cfg.backbone == RESNET_CNN else WEIGHTS_IMAGENET


# train.fine_tune_lr_factor=auto: the whole network's learning rate after the head-only phase, as a share of
# train.learning_rate. A Keras application's weights are (nearly always) ImageNet's: features from far more
# images than a fine-tuning run, kept by a gentle rate (Keras' transfer-learning guide). resnet_cnn has no
# ImageNet weights: its file is one a team trained on its own kind of images, and those adapt best at the
# full rate (bench/bench_transfer.py, digits 0-4 -> 5-9 from 50 images: 0.939 at 1.0, 0.890 at 0.1,
# 0.925 from scratch; docs/model.md#backbones).
FINE_TUNE_LR_FACTOR_AUTO = {RESNET_CNN: 1.0}
FINE_TUNE_LR_FACTOR_KERAS_APPLICATIONS = 0.1


def auto_fine_tune_lr_factor(backbone: str) -> float:
    """What train.fine_tune_lr_factor=auto means for `backbone` (above)."""
    return FINE_TUNE_LR_FACTOR_AUTO.get(backbone, FINE_TUNE_LR_FACTOR_KERAS_APPLICATIONS)


def is_weights_file(value: str) -> bool:
    return value not in (WEIGHTS_AUTO, WEIGHTS_IMAGENET, WEIGHTS_NONE)


def auto_size_floor(backbone: str, image_size_auto_min: int) -> int:
    """What `data.image_size=auto` never goes below: data.image_size_auto_min, raised to the backbone's floor."""
    return max(image_size_auto_min, BACKBONES[backbone].auto_floor)


def backbone_problem(model_cfg: Any, default_model_cfg: Any, image_size: Any) -> Optional[str]:
    """Why `model.backbone` / `model.backbone_weights` do not fit the rest of the config, or None.

    `default_model_cfg` is ModelConfig() (passed in: this module does not import the config)."""
    name, weights = model_cfg.backbone, model_cfg.backbone_weights
    if name not in BACKBONES:
        return (f"invalid value for model.backbone: {name!r}; expected one of {', '.join(BACKBONES)}")
    if is_weights_file(weights) and not weights.lower().endswith(WEIGHTS_FILE_SUFFIXES):
        return (f"invalid value for model.backbone_weights: {weights!r}; expected {WEIGHTS_AUTO}, "
                f"{WEIGHTS_IMAGENET}, {WEIGHTS_NONE}, or the path or gs:// URI of a Keras weights file "
                f"({' or '.join(WEIGHTS_FILE_SUFFIXES)})")
    if name == RESNET_CNN:
        if weights == WEIGHTS_IMAGENET:
            return ("model.backbone_weights=imagenet: there are no ImageNet weights for model.backbone="
                    f"{RESNET_CNN}; pick a Keras applications backbone ({', '.join(list(BACKBONES)[1:])}), "
                    f"or give a weights file saved from a {RESNET_CNN}")
        return None
    for key in RESNET_CNN_KEYS:
        if getattr(model_cfg, key) != getattr(default_model_cfg, key):
            return (f"model.{key}={getattr(model_cfg, key)!r} shapes the {RESNET_CNN} only, and model.backbone="
                    f"{name}; remove it (the head keys model.head, dense_units, dropout, layer_norm apply to every backbone)")
    floor = BACKBONES[name].min_size
    if isinstance(image_size, int) and image_size < floor:
        return (f"invalid value for data.image_size: {image_size}; model.backbone={name} needs at least "
                f"{floor} px (it downsamples 32x); use {BACKBONES[name].auto_floor} or auto")
    return None
