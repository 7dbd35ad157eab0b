"""The one typed config that holds every knob of the pipeline.

Defaults live here and nowhere else. A config is built from defaults, then a
YAML/JSON file, then `--set section.key=value` overrides; unknown keys and
invalid values are rejected with a message that names them.

`model.preset` is special: the preset's values are applied first, then any
other `model.*` key given by the user, whatever the order they were given in.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple, Union

from schemas.span_pattern import ALLOWED_TOKENS, check_span_pattern

AUTO = "auto"  # a knob whose default is AUTO also takes an integer: data.image_size, model.stem_stride


class ConfigError(ValueError):
    """A config key or value the user must fix."""


@dataclass
class DataConfig:
    # Images are resized to image_size x image_size; "auto": from the ingested images (docs/real_data.md):
    # their median short side rounded up to a multiple of 8, clamped to [image_size_auto_min, _max].
    image_size: Union[int, str] = AUTO
    image_size_auto_min: int = 32   # smaller images are upsampled to this: the default model downsamples 16x
    image_size_auto_max: int = 128  # cost grows with the square of the side
    validation_percent: int = 10    # share of images (by path hash) the Trainer selects the epoch on
    test_percent: int = 10          # share of images (by path hash) only the Evaluator sees
    schema_path: str = ""           # curated schema.pbtxt; empty -> SchemaGen infers one
    # Ingestion limits (components/image_example_gen): bad files are quarantined, these stop the run.
    max_bad_fraction: float = 0.1   # quarantined / image files found, above which ingestion stops
    min_images_per_class: int = 5   # usable images each class needs; 0: class folders without images are skipped
    max_image_pixels: int = 50_000_000  # width*height declared in the header; larger files are never decoded
    max_file_mb: float = 50.0       # larger files are quarantined unread
    # Batches (docs/scheduled-runs.md): "" = the data root holds the class folders; else the name of the
    # batch folders under it, with TFX's span tokens, e.g. "round-{SPAN}" or "day={YYYY}-{MM}-{DD}".
    span_pattern: str = ""
    window_spans: int = 1           # train on the newest N spans (needs data.span_pattern)
    # A fixed folder of class folders every run is also judged on, never trained on; "" = none.
    golden_dir: str = ""

    def validate(self) -> None:
        _check(self.image_size == AUTO or 8 <= self.image_size <= 1024, "data.image_size", self.image_size,
               f"{AUTO!r} or an integer from 8 to 1024")
        _check(8 <= self.image_size_auto_min <= self.image_size_auto_max <= 1024, "data.image_size_auto_min",
               (self.image_size_auto_min, self.image_size_auto_max),
               "8 <= data.image_size_auto_min <= data.image_size_auto_max <= 1024")
        for key in ("validation_percent", "test_percent"):
            _check(1 <= getattr(self, key) <= 45, f"data.{key}", getattr(self, key), "an integer from 1 to 45")
        _check(0 <= self.max_bad_fraction <= 1, "data.max_bad_fraction", self.max_bad_fraction,
               "a number from 0 to 1")
        _check(self.min_images_per_class >= 0, "data.min_images_per_class", self.min_images_per_class,
               "an integer >= 0")
        _check(1 <= self.max_image_pixels <= MAX_DECODABLE_PIXELS, "data.max_image_pixels",
               self.max_image_pixels, f"an integer from 1 to {MAX_DECODABLE_PIXELS} (Pillow's own bomb limit)")
        _check(0 < self.max_file_mb <= 4096, "data.max_file_mb", self.max_file_mb, "a number above 0, at most 4096")
        problem = check_span_pattern(self.span_pattern)
        _check(problem is None, "data.span_pattern", self.span_pattern,
               f"a batch folder name with {ALLOWED_TOKENS} ({problem}), e.g. round-{{SPAN}}")
        _check(1 <= self.window_spans <= 1000, "data.window_spans", self.window_spans, "an integer from 1 to 1000")
        _check(self.window_spans == 1 or bool(self.span_pattern), "data.window_spans", self.window_spans,
               "1 unless data.span_pattern names the batch folders")


# Pillow refuses to open any image above twice its default MAX_IMAGE_PIXELS (89,478,485).
MAX_DECODABLE_PIXELS = 178_956_970


@dataclass
class AugmentConfig:
    """Train-split-only augmentation, applied in the Trainer's tf.data pipeline.

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
    full_strength_size: int = 64    # rotation and zoom scale by min(1, image side / this): gentler on small images

    def validate(self) -> None:
        _check(0 <= self.brightness <= 1, "augment.brightness", self.brightness, "a number from 0 to 1")
        _check(0 < self.contrast_lower <= self.contrast_upper, "augment.contrast_lower",
               self.contrast_lower, "a positive number not above augment.contrast_upper")
        _check(0 <= self.rotation_degrees <= 180, "augment.rotation_degrees", self.rotation_degrees,
               "a number from 0 to 180")
        _check(0 <= self.zoom < 1, "augment.zoom", self.zoom, "a number from 0 to below 1")
        _check(0 <= self.shift <= 0.5, "augment.shift", self.shift, "a number from 0 to 0.5")
        _check(1 <= self.full_strength_size <= 4096, "augment.full_strength_size", self.full_strength_size,
               "an integer from 1 to 4096")


BATCH_NORM_CHOICES = ("none", "before_activation", "after_activation")
PADDING_CHOICES = ("same", "valid")
HEAD_CHOICES = ("flatten", "gap")
DOWNSAMPLE_CHOICES = ("pool", "stride")


@dataclass
class ModelConfig:
    """The residual CNN. See components/trainer/model.py for how each knob is used."""
    preset: str = "default"
    stem_filters: int = 32
    stem_kernel_size: int = 3       # 3, 5 or 7
    # 1, 2 or 4; "auto": 1 (full resolution) while the train split is small, else 2 (components/trainer/model.py)
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
        _check(self.preset in PRESETS, "model.preset", self.preset, "one of " + ", ".join(sorted(PRESETS)))
        _check(self.stem_kernel_size in (3, 5, 7), "model.stem_kernel_size", self.stem_kernel_size, "3, 5 or 7")
        _check(self.kernel_size in (1, 3, 5, 7), "model.kernel_size", self.kernel_size, "1, 3, 5 or 7")
        _check(self.stem_stride in (AUTO, 1, 2, 4), "model.stem_stride", self.stem_stride, f"{AUTO!r}, 1, 2 or 4")
        _check(self.stem_filters > 0, "model.stem_filters", self.stem_filters, "a positive integer")
        _check(self.padding in PADDING_CHOICES, "model.padding", self.padding, " or ".join(PADDING_CHOICES))
        _check(self.batch_norm in BATCH_NORM_CHOICES, "model.batch_norm", self.batch_norm,
               "one of " + ", ".join(BATCH_NORM_CHOICES))
        _check(self.head in HEAD_CHOICES, "model.head", self.head, " or ".join(HEAD_CHOICES))
        _check(self.downsample in DOWNSAMPLE_CHOICES, "model.downsample", self.downsample,
               " or ".join(DOWNSAMPLE_CHOICES))
        _check(len(self.stage_filters) >= 1 and all(f > 0 for f in self.stage_filters),
               "model.stage_filters", self.stage_filters, "a non-empty list of positive integers")
        _check(all(s in (1, 2) for s in self.stage_strides), "model.stage_strides", self.stage_strides,
               "a list of 1s and 2s, one per stage")
        if len(self.stage_strides) != len(self.stage_filters):
            raise ConfigError(
                f"model.stage_filters {self.stage_filters} has {len(self.stage_filters)} value(s) but "
                f"model.stage_strides {self.stage_strides} has {len(self.stage_strides)}; they must be "
                "equally long (one filter count and one stride per stage), e.g. --set model.stage_strides="
                + ",".join(["2"] * len(self.stage_filters)))
        _check(self.blocks_per_stage >= 1, "model.blocks_per_stage", self.blocks_per_stage, "an integer >= 1")
        _check(self.dense_units >= 0, "model.dense_units", self.dense_units, "an integer >= 0")
        _check(0 <= self.dropout < 1, "model.dropout", self.dropout, "a number from 0 to below 1")


# `seed` reproduces the seed article's build_cnn layer for layer:
# Conv32 -> MaxPool -> Res32 -> Conv64 -> MaxPool -> Res64 -> Flatten -> Dense128 -> softmax.
# `default` is what we recommend on a CPU: strided stem, BN, strided residual stages, GAP head.
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
    learning_rate: float = 0.002      # peak learning rate (after warm-up)
    lr_schedule: str = "cosine"       # "cosine": linear warm-up, then cosine decay to 0 at the last epoch
    warmup_epochs: float = 1.0        # linear warm-up from 0 (cosine only); at most half of the training
    label_smoothing: float = 0.0      # 0.1 spreads 10% of each target over the other classes
    shuffle_buffer: int = 1000
    # watched epochs (from after the warm-up and the first third) without a better validation accuracy,
    # ties to the lower validation loss, before stopping; the best watched epoch is kept. 0 disables
    early_stopping_patience: int = 6
    cache_max_mb: int = 2048          # cache decoded images in memory when they fit in this
    seed: int = 42
    deterministic: bool = False       # bit-identical weights for the same data, config and machine (slower)
    warm_start: bool = False          # start from the served model's weights when classes, size and network match

    def validate(self) -> None:
        _check(self.epochs >= 1, "train.epochs", self.epochs, "an integer >= 1")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "an integer >= 1")
        _check(self.min_steps_per_epoch >= 0, "train.min_steps_per_epoch", self.min_steps_per_epoch, "an integer >= 0")
        _check(self.learning_rate > 0, "train.learning_rate", self.learning_rate, "a positive number")
        _check(self.lr_schedule in LR_SCHEDULE_CHOICES, "train.lr_schedule", self.lr_schedule,
               " or ".join(LR_SCHEDULE_CHOICES))
        _check(0 <= self.warmup_epochs <= 100, "train.warmup_epochs", self.warmup_epochs, "a number from 0 to 100")
        _check(0 <= self.label_smoothing < 1, "train.label_smoothing", self.label_smoothing,
               "a number from 0 to below 1")
        _check(self.shuffle_buffer >= 1, "train.shuffle_buffer", self.shuffle_buffer, "an integer >= 1")
        _check(self.early_stopping_patience >= 0, "train.early_stopping_patience",
               self.early_stopping_patience, "an integer >= 0")
        _check(self.cache_max_mb >= 0, "train.cache_max_mb", self.cache_max_mb, "an integer >= 0")


SMALL_TEST_SPLIT_CHOICES = ("warn", "fail")


@dataclass
class EvalConfig:
    """The bar a model must clear to be pushed (docs/evaluation-gate.md), judged on the test split only."""
    min_accuracy: float = 0.8          # absolute floor on test accuracy
    confidence: float = 0.95           # not blessed when McNemar says the candidate is worse than served at this level
    max_class_recall_drop: float = 0.2  # largest allowed fall of one class's recall against the served model
    min_class_recall: float = 0.5      # floor on every class's recall
    min_test_images: int = 30          # below this the test split is "too small to mean much"
    min_test_per_class: int = 3        # ... or when a class has fewer test images than this
    small_test_split: str = "warn"     # "warn": say so and go on; "fail": stop before training
    force_bless: bool = False          # push whatever the gate says; needs force_reason
    force_reason: str = ""             # why, stored on the blessing in ML Metadata and printed

    def validate(self) -> None:
        _check(0 <= self.min_accuracy <= 1, "eval.min_accuracy", self.min_accuracy, "a number from 0 to 1")
        _check(0.5 <= self.confidence < 1, "eval.confidence", self.confidence, "a number from 0.5 to below 1")
        for key in ("max_class_recall_drop", "min_class_recall"):
            _check(0 <= getattr(self, key) <= 1, f"eval.{key}", getattr(self, key), "a number from 0 to 1")
        for key in ("min_test_images", "min_test_per_class"):
            _check(getattr(self, key) >= 0, f"eval.{key}", getattr(self, key), "an integer >= 0")
        _check(self.small_test_split in SMALL_TEST_SPLIT_CHOICES, "eval.small_test_split",
               self.small_test_split, " or ".join(SMALL_TEST_SPLIT_CHOICES))
        _check(not self.force_bless or bool(self.force_reason.strip()), "eval.force_reason",
               self.force_reason, 'a reason when eval.force_bless=true, e.g. --set '
               'eval.force_reason="baseline trained on mislabeled data" (it is stored with the run)')


@dataclass
class ServingConfig:
    model_name: str = "image_classifier"  # pushed to <serving_dir>/<model_name>/<version>
    keep_versions: int = 5          # served versions kept after a push; older ones are deleted
    warmup_images: int = 4          # validation images in assets.extra/tf_serving_warmup_requests, per signature
    infra_check_atol: float = 1e-4  # max |probability difference| between serving and the trained model

    def validate(self) -> None:
        ok = bool(self.model_name) and all(c.isalnum() or c in "-_." for c in self.model_name)
        _check(ok, "serving.model_name", self.model_name, "letters, digits, '-', '_' or '.'")
        _check(self.keep_versions >= 1, "serving.keep_versions", self.keep_versions,
               "an integer >= 1 (the newest version is never pruned)")
        _check(1 <= self.warmup_images <= 64, "serving.warmup_images", self.warmup_images, "an integer from 1 to 64")
        _check(0 < self.infra_check_atol <= 0.5, "serving.infra_check_atol", self.infra_check_atol,
               "a number in (0, 0.5]")


@dataclass
class RunConfig:
    pipeline_name: str = "imgpipe"
    beam_args: List[str] = field(default_factory=lambda: [
        "--direct_running_mode=in_memory", "--direct_num_workers=1"])
    # Local runs (`imgpipe run`) reuse a component's earlier outputs when its inputs and settings are
    # unchanged; what reads state outside the pipeline (the served model) always runs (docs/performance.md#caching).
    enable_cache: bool = True
    # `imgpipe run` suggests leaving the in-memory DirectRunner from this many image files on
    # (docs/scaling.md#when-in-memory-stops-being-sensible); 0: never.
    large_data_images: int = 50_000

    def validate(self) -> None:
        ok = bool(self.pipeline_name) and all(c.isalnum() or c in "-_" for c in self.pipeline_name)
        _check(ok, "run.pipeline_name", self.pipeline_name, "letters, digits, '-' or '_'")
        _check(self.large_data_images >= 0, "run.large_data_images", self.large_data_images,
               "an integer >= 0 (0: never suggest another runner)")


@dataclass
class KubeflowConfig:
    """Resources the Trainer asks for on Kubeflow / Vertex AI (0 or empty: the cluster's default),
    and how a KFP schedule (`imgpipe schedule`) behaves."""
    trainer_cpu: float = 0.0        # vCPU limit
    trainer_memory_gb: float = 0.0  # memory limit in GB
    trainer_gpus: int = 0           # accelerator count; needs trainer_gpu_type
    trainer_gpu_type: str = ""      # KFP: a resource name, e.g. nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4
    # 1: a scheduled run never starts while the previous one still runs (both would push to one serving dir)
    schedule_max_concurrency: int = 1
    # False: after a pause or an outage only the latest missed run starts, not one per missed interval
    schedule_catchup: bool = False

    def validate(self) -> None:
        _check(self.trainer_cpu >= 0, "kubeflow.trainer_cpu", self.trainer_cpu, "a number >= 0")
        _check(self.trainer_memory_gb >= 0, "kubeflow.trainer_memory_gb", self.trainer_memory_gb,
               "a number >= 0")
        _check(self.trainer_gpus >= 0, "kubeflow.trainer_gpus", self.trainer_gpus, "an integer >= 0")
        _check(not self.trainer_gpus or bool(self.trainer_gpu_type), "kubeflow.trainer_gpu_type",
               self.trainer_gpu_type, "an accelerator type when kubeflow.trainer_gpus > 0 "
               "(KFP: nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4)")
        _check(1 <= self.schedule_max_concurrency <= 10, "kubeflow.schedule_max_concurrency",
               self.schedule_max_concurrency, "an integer from 1 to 10 (KFP's limit); 1 keeps runs "
               "from writing the same serving dir at once")


@dataclass
class ValidationConfig:
    """Image-aware validation (components/image_validation): limits, and where the previous run is kept.

    The minimum images per class is `data.min_images_per_class`, checked again on what was ingested."""
    max_imbalance_ratio: float = 10.0    # largest / smallest class; above stops the run
    min_image_side: int = 32             # px; smaller images are a warning
    near_duplicate_hamming: int = 4      # dHash bits: near-duplicate candidates beyond leakage.ALL_PAIRS_BUDGET
    near_duplicate_min_similarity: float = 0.85  # floor on the 8x8 thumbnail correlation of a near-duplicate pair
    near_duplicate_ratio: float = 0.2    # pair distance (1 - correlation) <= this x the runner-up's (leakage.py)
    leakage_is_error: bool = False       # leakage stops the run instead of warning
    class_drift_threshold: float = 0.1   # L-infinity distance of class frequencies vs the previous run
    size_drift_threshold: float = 0.1    # Jensen-Shannon divergence of width/height vs the previous run
    reference_dir: str = ""              # the previous validated run; empty: under the pipeline root (docs/data-validation.md)

    def validate(self) -> None:
        _check(self.max_imbalance_ratio >= 1, "validation.max_imbalance_ratio", self.max_imbalance_ratio,
               "a number >= 1")
        _check(self.min_image_side >= 1, "validation.min_image_side", self.min_image_side, "an integer >= 1")
        _check(0 <= self.near_duplicate_hamming <= 32, "validation.near_duplicate_hamming",
               self.near_duplicate_hamming, "an integer from 0 to 32 (bits of a 64-bit dHash)")
        _check(0 < self.near_duplicate_min_similarity <= 1, "validation.near_duplicate_min_similarity",
               self.near_duplicate_min_similarity, "a number in (0, 1]")
        _check(0 < self.near_duplicate_ratio <= 1, "validation.near_duplicate_ratio", self.near_duplicate_ratio,
               "a number in (0, 1]")
        for key in ("class_drift_threshold", "size_drift_threshold"):
            _check(0 < getattr(self, key) <= 1, f"validation.{key}", getattr(self, key), "a number in (0, 1]")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    run: RunConfig = field(default_factory=RunConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    kubeflow: KubeflowConfig = field(default_factory=KubeflowConfig)

    def validate(self) -> "Config":
        for section in dataclasses.fields(self):
            getattr(self, section.name).validate()
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"invalid value for {key}: {value!r}; expected {expected}")


# --------------------------------------------------------------------------- loading

def build_config(file_path: str = "", overrides: Tuple[str, ...] | List[str] = ()) -> Config:
    """Defaults <- config file <- `key=value` overrides; validated."""
    nested: Dict[str, Dict[str, Any]] = {}
    if file_path:
        _merge(nested, load_config_file(file_path), source=file_path)
    for item in overrides:
        key, value = _parse_override(item)
        section, _, name = key.partition(".")
        _merge(nested, {section: {name: value}}, source=f"--set {item}")
    return from_dict(nested)


def from_dict(nested: Mapping[str, Any]) -> Config:
    """Build a validated Config from a {section: {key: value}} mapping."""
    if not isinstance(nested, Mapping):
        raise ConfigError(f"the config must be a mapping of sections, got {nested!r}")
    section_types = {f.name: f.type for f in dataclasses.fields(Config)}
    unknown = sorted(set(nested) - set(section_types))
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(unknown)}; "
                          f"known sections: {', '.join(section_types)}")
    sections = {}
    for f in dataclasses.fields(Config):
        values = nested.get(f.name) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section {f.name!r} must be a mapping of keys, got {values!r}")
        values = dict(values)
        cls = type(getattr(Config(), f.name))
        if f.name == "model":
            preset = values.get("preset", ModelConfig.preset)
            if preset not in PRESETS:
                raise ConfigError(f"invalid value for model.preset: {preset!r}; expected one of "
                                  + ", ".join(sorted(PRESETS)))
            values = {**PRESETS[preset], **values}
        sections[f.name] = _make_section(cls, f.name, values)
    return Config(**sections).validate()


# Keys that existed once: naming what replaced them beats "unknown key".
REMOVED_KEYS = {
    "data.eval_percent": "it was replaced by data.validation_percent (early stopping) and "
                         "data.test_percent (the Evaluator); see docs/evaluation-gate.md",
    "eval.max_accuracy_drop": "it was replaced by eval.confidence (a paired McNemar test against the "
                              "served model); see docs/evaluation-gate.md",
}


def _make_section(cls, section: str, values: Dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if f"{section}.{key}" in REMOVED_KEYS:
            raise ConfigError(f"config key {section}.{key} no longer exists: {REMOVED_KEYS[section + '.' + key]}")
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(section + '.' + k for k in unknown)}; "
                          f"known keys in {section!r}: {', '.join(fields)}")
    default = cls()
    coerced = {k: _coerce(f"{section}.{k}", v, getattr(default, k)) for k, v in values.items()}
    return cls(**coerced)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Coerce `value` to the type of the field's default, or raise ConfigError."""
    kind = type(default)
    try:
        if default == AUTO:
            return _int_or_auto(value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind is list:
            if isinstance(value, str):
                value = json.loads(value) if value.strip().startswith("[") else value.split(",")
            if not isinstance(value, list):
                raise ValueError
            sample = default[0] if default else None
            return [_coerce(key, v, sample) for v in value] if sample is not None else list(value)
    except (ValueError, TypeError, json.JSONDecodeError):
        pass
    expected = f"{AUTO!r} or an integer" if default == AUTO else kind.__name__
    raise ConfigError(f"invalid value for {key}: {value!r}; expected {expected}")


def _int_or_auto(value: Any) -> Union[int, str]:
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return int(value)


def _parse_override(item: str) -> Tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or "." not in key or not key.split(".", 1)[1]:
        raise ConfigError(f"cannot read --set {item!r}; write it as section.key=value, e.g. train.epochs=5")
    return key.strip(), value.strip()


def _merge(into: Dict[str, Dict[str, Any]], new: Mapping[str, Any], source: str) -> None:
    if not isinstance(new, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of sections, got {type(new).__name__}")
    for section, values in new.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys, got {values!r}")
        into.setdefault(section, {}).update(values)


def load_config_file(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{e.lineno}:{e.colno}: {e.msg} (not valid JSON)") from None
    else:
        import yaml  # only needed for YAML files
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(_yaml_error_line(path, e)) from None
    return data or {}


def _yaml_error_line(path: str, error) -> str:
    """"FILE:LINE:COL: problem" in one line, instead of the parser's multi-line dump with carets."""
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return f"{path}: not valid YAML: " + " ".join(str(error).split())
    where = f"{path}:{mark.line + 1}:{mark.column + 1}"
    context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and start is not None:
        return f"{where}: {error.problem} ({context} that starts at line {start.line + 1})"
    return f"{where}: {error.problem}" + (f" ({context})" if context else "")
