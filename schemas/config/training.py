"""The training sections: `augment` (train-split-only augmentation), `model` (the network) and `train`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Union

from schemas.backbones import WEIGHTS_AUTO
from schemas.config.base import AUTO, ConfigError, check


@dataclass
class AugmentConfig:
    """Train-split-only augmentation, applied in the Trainer's training step (components/trainer/augment.py).

    Defaults are safe for orientation-sensitive images (digits, text, documents,
    scans): no mirror flips. Turn flips on only when a mirrored image is still
    a valid example of its class (docs/real_data.md)."""
    flip_left_right: bool = False
    flip_up_down: bool = False
    brightness: float = 0.2         # max delta; 0 disables
    contrast_lower: float = 0.8     # lower == upper == 1 disables
    contrast_upper: float = 1.2
    rotation_degrees: float = 10.0  # max rotation either way; 0 disables
    zoom: float = 0.1               # max zoom in/out as a fraction; 0 disables
    shift: float = 0.1              # max shift along each axis as a fraction of the side; 0 disables
    # rotation and zoom scale by min(1, image side / this): gentler only on images below this side. 28 (the
    # smallest data.image_size=auto picks) gives real 28 px digits full strength: 64 gave them 0.44 of it and
    # scored lower (docs/real_data.md#augmentation-that-cannot-hurt)
    full_strength_size: int = 28

    def validate(self) -> None:
        check(0 <= self.brightness <= 1, "augment.brightness", self.brightness, "a number from 0 to 1")
        check(0 < self.contrast_lower <= self.contrast_upper, "augment.contrast_lower",
               self.contrast_lower, "a positive number not above augment.contrast_upper")
        check(0 <= self.rotation_degrees <= 180, "augment.rotation_degrees", self.rotation_degrees,
               "a number from 0 to 180")
        check(0 <= self.zoom < 1, "augment.zoom", self.zoom, "a number from 0 to below 1")
        check(0 <= self.shift <= 0.5, "augment.shift", self.shift, "a number from 0 to 0.5")
        check(1 <= self.full_strength_size <= 4096, "augment.full_strength_size", self.full_strength_size,
               "an integer from 1 to 4096")


BATCH_NORM_CHOICES = ("none", "before_activation", "after_activation")
PADDING_CHOICES = ("same", "valid")
HEAD_CHOICES = ("flatten", "gap")
DOWNSAMPLE_CHOICES = ("pool", "stride")


@dataclass
class ModelConfig:
    """The residual CNN. See components/trainer/model.py for how each knob is used."""
    # resnet_cnn: the residual CNN below; or a Keras applications backbone (docs/model.md#backbones)
    backbone: str = "resnet_cnn"
    # auto: imagenet for a Keras applications backbone, none for resnet_cnn; or the path / gs:// URI of a .h5 file
    backbone_weights: str = WEIGHTS_AUTO
    preset: str = "default"
    stem_filters: int = 32
    stem_kernel_size: int = 3       # 3, 5 or 7
    # 1, 2 or 4; "auto": 1 (full resolution) up to 32 px or while the train split is small, else 2 (components/trainer/model.py)
    stem_stride: Union[int, str] = AUTO
    padding: str = "same"
    stage_filters: List[int] = field(default_factory=lambda: [32, 64, 128])
    stage_strides: List[int] = field(default_factory=lambda: [2, 2, 2])
    blocks_per_stage: int = 1
    kernel_size: int = 3
    downsample: str = "stride"      # "pool": conv + MaxPool at stage entry; "stride": strided residual block
    batch_norm: str = "before_activation"
    layer_norm: bool = False        # LayerNormalization on the pooled features before the head
    head: str = "gap"
    dense_units: int = 0            # 0: no hidden dense layer
    dropout: float = 0.2

    def validate(self) -> None:
        check(self.preset in PRESETS, "model.preset", self.preset, "one of " + ", ".join(sorted(PRESETS)))
        check(self.stem_kernel_size in (3, 5, 7), "model.stem_kernel_size", self.stem_kernel_size, "3, 5 or 7")
        check(self.kernel_size in (1, 3, 5, 7), "model.kernel_size", self.kernel_size, "1, 3, 5 or 7")
        check(self.stem_stride in (AUTO, 1, 2, 4), "model.stem_stride", self.stem_stride, f"{AUTO!r}, 1, 2 or 4")
        check(self.stem_filters > 0, "model.stem_filters", self.stem_filters, "a positive integer")
        check(self.padding in PADDING_CHOICES, "model.padding", self.padding, " or ".join(PADDING_CHOICES))
        check(self.batch_norm in BATCH_NORM_CHOICES, "model.batch_norm", self.batch_norm,
               "one of " + ", ".join(BATCH_NORM_CHOICES))
        check(self.head in HEAD_CHOICES, "model.head", self.head, " or ".join(HEAD_CHOICES))
        check(self.downsample in DOWNSAMPLE_CHOICES, "model.downsample", self.downsample,
               " or ".join(DOWNSAMPLE_CHOICES))
        check(len(self.stage_filters) >= 1 and all(f > 0 for f in self.stage_filters),
               "model.stage_filters", self.stage_filters, "a non-empty list of positive integers")
        check(all(s in (1, 2) for s in self.stage_strides), "model.stage_strides", self.stage_strides,
               "a list of 1s and 2s, one per stage")
        if len(self.stage_strides) != len(self.stage_filters):
            raise ConfigError(
                f"model.stage_filters {self.stage_filters} has {len(self.stage_filters)} value(s) but "
                f"model.stage_strides {self.stage_strides} has {len(self.stage_strides)}; they must be "
                "equally long (one filter count and one stride per stage), e.g. --set model.stage_strides="
                + ",".join(["2"] * len(self.stage_filters)))
        check(self.blocks_per_stage >= 1, "model.blocks_per_stage", self.blocks_per_stage, "an integer >= 1")
        check(self.dense_units >= 0, "model.dense_units", self.dense_units, "an integer >= 0")
        check(0 <= self.dropout < 1, "model.dropout", self.dropout, "a number from 0 to below 1")


# `seed` reproduces the seed article's build_cnn layer for layer:
# Conv32 -> MaxPool -> Res32 -> Conv64 -> MaxPool -> Res64 -> Flatten -> Dense128 -> softmax.
# `default` is what we recommend on a CPU: BN, strided residual stages, GAP head, and a stem strided on
# images above 32 px unless they are few (model.stem_stride=auto, components/trainer/model.py).
PRESETS: Dict[str, Dict[str, Any]] = {
    "default": {},
    "seed": dict(
        stem_filters=32, stem_kernel_size=3, stem_stride=1, padding="same",
        stage_filters=[32, 64], stage_strides=[2, 2], blocks_per_stage=1, kernel_size=3,
        downsample="pool", batch_norm="none", layer_norm=False, head="flatten",
        dense_units=128, dropout=0.0,
    ),
}


LR_SCHEDULE_CHOICES = ("cosine", "constant")


@dataclass
class TrainConfig:
    epochs: int = 25
    batch_size: int = 32              # images per training step, lowered on a small train split (next key)
    # an epoch has at least this many steps: the batch shrinks to train images // this (never below 8); 0: off
    min_steps_per_epoch: int = 16
    # batches per call into the compiled training step (fewer round trips through Python); 1: a call per
    # batch. Lowered to a divisor of the epoch and of a step cap (--param train_steps) so the cap stays exact
    steps_per_execution: int = 16
    learning_rate: float = 0.002      # peak learning rate (after warm-up)
    lr_schedule: str = "cosine"       # "cosine": linear warm-up, then cosine decay to 0 at the last epoch
    warmup_epochs: float = 1.0        # linear warm-up from 0 (cosine only); at most half of the training
    label_smoothing: float = 0.0      # 0.1 spreads 10% of each target over the other classes
    # examples in the shuffle buffer; 0: the whole train split when it is cached in memory (a uniform order each
    # epoch), else as many decoded images as train.cache_max_mb holds (components/trainer/schedule.py)
    shuffle_buffer: int = 0
    # watched epochs (from after the warm-up and the first third) with neither a better validation accuracy
    # (ties to the lower validation loss) nor a lower validation loss, before stopping; the best watched
    # epoch (by accuracy) is kept. 0 disables
    early_stopping_patience: int = 6
    cache_max_mb: int = 2048          # cache decoded images in memory when they fit in this
    # when they do not: cache them in a file under this folder (decoded once per run, not once per epoch;
    # removed after training). auto: the system's temporary folder; none: decode every epoch
    disk_cache_dir: str = AUTO
    seed: int = 42
    deterministic: bool = False       # bit-identical weights for the same data, config and machine (slower)
    warm_start: bool = False          # start from the served model's weights when classes, size and network match
    freeze_backbone_epochs: int = 3   # pretrained backbone: train the head alone this many epochs first
    # pretrained backbone: then the whole network at this x the learning rate; auto: 1.0 for resnet_cnn weights
    # (a team's own, from its kind of images), 0.1 for a Keras application's (ImageNet); schemas/backbones.py
    fine_tune_lr_factor: Union[float, str] = AUTO

    def validate(self) -> None:
        check(self.epochs >= 1, "train.epochs", self.epochs, "an integer >= 1")
        check(self.batch_size >= 1, "train.batch_size", self.batch_size, "an integer >= 1")
        check(self.min_steps_per_epoch >= 0, "train.min_steps_per_epoch", self.min_steps_per_epoch, "an integer >= 0")
        check(self.steps_per_execution >= 1, "train.steps_per_execution", self.steps_per_execution,
              "an integer >= 1 (1: a call per batch)")
        check(self.learning_rate > 0, "train.learning_rate", self.learning_rate, "a positive number")
        check(self.lr_schedule in LR_SCHEDULE_CHOICES, "train.lr_schedule", self.lr_schedule,
               " or ".join(LR_SCHEDULE_CHOICES))
        check(0 <= self.warmup_epochs <= 100, "train.warmup_epochs", self.warmup_epochs, "a number from 0 to 100")
        check(0 <= self.label_smoothing < 1, "train.label_smoothing", self.label_smoothing,
               "a number from 0 to below 1")
        check(self.shuffle_buffer >= 0, "train.shuffle_buffer", self.shuffle_buffer,
              "an integer >= 0 (0: the whole train split)")
        check(self.early_stopping_patience >= 0, "train.early_stopping_patience",
               self.early_stopping_patience, "an integer >= 0")
        check(self.cache_max_mb >= 0, "train.cache_max_mb", self.cache_max_mb, "an integer >= 0")
        check(isinstance(self.disk_cache_dir, str) and self.disk_cache_dir.strip() != ""
              and "://" not in self.disk_cache_dir, "train.disk_cache_dir", self.disk_cache_dir,
              f"{AUTO!r}, 'none' or a local folder path (the cache is read every epoch: not a bucket)")
        check(self.freeze_backbone_epochs >= 0, "train.freeze_backbone_epochs", self.freeze_backbone_epochs,
              "an integer >= 0")
        check(self.fine_tune_lr_factor == AUTO or 0 < self.fine_tune_lr_factor <= 1, "train.fine_tune_lr_factor",
              self.fine_tune_lr_factor, f"{AUTO!r} or a number in (0, 1]")

