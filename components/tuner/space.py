"""The search space, and how a trial's values replace the config's.

    learning_rate   train.learning_rate (the peak of the schedule)
    width           resnet_cnn: model.stem_filters and the first stage's filters (each next stage doubles);
                    a Keras applications backbone: the head's hidden layer, model.dense_units (0: none)
    depth           resnet_cnn only: the number of stages (model.stage_filters / stage_strides, stride 2 each),
                    at most as many as halve the image down to 3 px
    dropout         model.dropout, before the classifier
    backbone        a Keras applications backbone only (not from a weights file): the applications that take
                    this image size. Never resnet_cnn <-> pretrained: the Transform graph already sized the
                    images for the configured one (schemas/backbones.py auto_floor).

The configured value of each is the first value tried's default. No TensorFlow here; keras_tuner loads in
`search_space` only.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from components.trainer.spec import TrainerSettings
from schemas.backbones import BACKBONES, RESNET_CNN, is_weights_file
from schemas.config import ModelConfig

LEARNING_RATES = (0.0005, 0.001, 0.002, 0.004)
WIDTHS = (16, 32, 48, 64)          # resnet_cnn: filters of the stem and the first stage
HEAD_WIDTHS = (0, 64, 128, 256)    # Keras applications: the head's hidden units
MIN_DEPTH, MAX_DEPTH = 2, 4
DROPOUT_MIN, DROPOUT_MAX, DROPOUT_STEP = 0.0, 0.5, 0.1
SMALLEST_FEATURE_MAP = 3          # depth stops where the stages would halve the image below this
PARAMETERS = ("learning_rate", "width", "depth", "dropout", "backbone")  # the order they are searched and shown


def search_space(model: ModelConfig, learning_rate: float, image_size: int):
    """keras_tuner.HyperParameters for this backbone and image size, each defaulting to the configured value."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Choice("learning_rate", sorted({*LEARNING_RATES, learning_rate}), default=learning_rate, ordered=True)
    if model.backbone == RESNET_CNN:
        hp.Choice("width", sorted({*WIDTHS, model.stem_filters}), default=model.stem_filters, ordered=True)
        hp.Int("depth", MIN_DEPTH, max_depth(image_size), default=min(max(len(model.stage_filters), MIN_DEPTH),
                                                                        max_depth(image_size)))
    else:
        hp.Choice("width", sorted({*HEAD_WIDTHS, model.dense_units}), default=model.dense_units, ordered=True)
    hp.Float("dropout", DROPOUT_MIN, DROPOUT_MAX, step=DROPOUT_STEP, default=round(model.dropout, 1))
    backbones = backbone_choices(model, image_size)
    if len(backbones) > 1:
        hp.Choice("backbone", backbones, default=model.backbone)
    return hp


def max_depth(image_size: int) -> int:
    depth = MIN_DEPTH
    while depth < MAX_DEPTH and image_size // 2 ** (depth + 1) >= SMALLEST_FEATURE_MAP:
        depth += 1
    return depth


def backbone_choices(model: ModelConfig, image_size: int) -> list:
    """The backbones a trial may pick: the configured one alone for resnet_cnn or a weights file."""
    if model.backbone == RESNET_CNN or is_weights_file(model.backbone_weights):
        return [model.backbone]
    others = [b.name for b in BACKBONES.values() if b.name not in (RESNET_CNN, model.backbone)
              and b.min_size <= image_size]
    return [model.backbone, *others]


def tuned_values(hyperparameters: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """{name: value} of a HyperParameters config (the Trainer's fn_args.hyperparameters), without
    Hyperband's bookkeeping entries (`tuner/epochs`, ...); {} without a Tuner step."""
    values = (hyperparameters or {}).get("values", {})
    return {name: value for name, value in values.items() if not name.startswith("tuner/")}


def with_hyperparameters(cfg: TrainerSettings, values: Dict[str, Any]) -> TrainerSettings:
    """The Trainer's settings with a trial's values in place of the config's."""
    if not values:
        return cfg
    model, train = cfg.model, cfg.train
    if "learning_rate" in values:
        train = dataclasses.replace(train, learning_rate=float(values["learning_rate"]))
    if "dropout" in values:
        model = dataclasses.replace(model, dropout=float(values["dropout"]))
    if "backbone" in values:
        model = dataclasses.replace(model, backbone=str(values["backbone"]))
    if model.backbone == RESNET_CNN and "width" in values:
        depth = int(values.get("depth", len(model.stage_filters)))
        width = int(values["width"])
        model = dataclasses.replace(model, stem_filters=width, stage_filters=[width * 2 ** i for i in range(depth)],
                                    stage_strides=[2] * depth)
    elif "width" in values:
        model = dataclasses.replace(model, dense_units=int(values["width"]))
    return dataclasses.replace(cfg, model=model, train=train)


def format_values(values: Dict[str, Any]) -> str:
    """`learning_rate 0.001, width 32, depth 3, dropout 0.2`: a trial's values in the order searched
    (whatever order a JSON file kept them in)."""
    ordered = sorted(values, key=lambda name: PARAMETERS.index(name) if name in PARAMETERS else len(PARAMETERS))
    return ", ".join(f"{name} {round(values[name], 4) if isinstance(values[name], float) else values[name]}"
                     for name in ordered)
