"""The Trainer's interface: its node id, the files it writes, and the typed settings run_fn receives.

Light (no TensorFlow): the summary, the report and the pusher read these names.
"""
from __future__ import annotations

import dataclasses

from schemas.config import AugmentConfig, Config, ModelConfig, TrainConfig

NODE_ID = "Trainer"
# user code, referenced by import path (never module_file=): the installed package is what runs
RUN_FN = "components.trainer.train.run_fn"
SETTINGS_KEY = "settings"  # the one custom_config key: TrainerSettings

# In the ModelRun artifact: the one record of how training went (record.py writes and reads it).
TRAINING_RECORD_FILE = "training.json"
# Beside each exported SavedModel (assets.extra/ is TF Serving's place for files it does not load):
# the model's facts, read without TensorFlow by warm start, the nothing-new check and the pusher.
MODEL_FACTS_FILE = "assets.extra/imgpipe.json"
FACTS_IMAGE_SIZE = "image_size"
FACTS_CLASS_NAMES = "class_names"
FACTS_SPANS = "spans"
FACTS_TRAINING = "training"
FACTS_BACKBONE = "backbone"                  # model.backbone
FACTS_BACKBONE_WEIGHTS = "backbone_weights"  # where its weights came from


FACTS_SERVING_LIMITS = "serving_limits"     # ServingLimits baked into the signatures


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """What one request to either serving signature may hold; beyond it the request is refused, undecoded
    (components/trainer/serving_guard.py). Resolved from the config: 0 keys take the ingestion limits."""
    max_image_pixels: int  # serving.max_image_pixels, or data.max_image_pixels
    max_image_bytes: int   # serving.max_image_bytes, or data.max_file_mb in bytes
    max_batch_images: int  # serving.max_batch_images

    @classmethod
    def from_config(cls, cfg: Config) -> "ServingLimits":
        file_bytes = min(int(cfg.data.max_file_mb * 2**20), 2**31 - 1)
        return cls(max_image_pixels=cfg.serving.max_image_pixels or cfg.data.max_image_pixels,
                   max_image_bytes=cfg.serving.max_image_bytes or file_bytes,
                   max_batch_images=cfg.serving.max_batch_images)


def batch_limit(model_facts: dict, wanted: int) -> int:
    """`wanted`, or less when the model's signatures take fewer images per request (serving.max_batch_images);
    `model_facts` is the model's imgpipe.json (publish.read_model_facts), {} for a model exported before limits."""
    return max(1, min(wanted, model_facts.get(FACTS_SERVING_LIMITS, {}).get("max_batch_images", wanted)))


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """Exactly the config the Trainer reads, so with caching on, changing a knob of another step
    (eval.*, serving.keep_versions, ...) does not retrain."""
    model: ModelConfig
    train: TrainConfig
    augment: AugmentConfig
    model_name: str        # serving.model_name: the warmup requests name the model
    warmup_images: int     # serving.warmup_images
    limits: ServingLimits  # serving.max_image_pixels, max_image_bytes, max_batch_images

    @classmethod
    def from_config(cls, cfg: Config) -> "TrainerSettings":
        return cls(model=cfg.model, train=cfg.train, augment=cfg.augment, model_name=cfg.serving.model_name,
                   warmup_images=cfg.serving.warmup_images, limits=ServingLimits.from_config(cfg))
