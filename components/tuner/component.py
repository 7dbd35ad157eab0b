"""The Tuner: TFX's own Tuner running `tuner_fn` (tuner_fn.py), wired only when tune.trials > 0."""
from __future__ import annotations

from typing import Optional

from tfx import v1 as tfx

from components.tuner.spec import NODE_ID, SETTINGS_KEY, TUNER_FN, TunerSettings
from schemas import carrier, features
from schemas.config import Config


def create_tuner(cfg: Config, examples, transform_graph, schema) -> Optional[tfx.components.Tuner]:
    """Searches on the train split, scores each trial on validation (never test); None when tune.trials is 0.

    Its `best_hyperparameters` output is the Trainer's `hyperparameters` input."""
    if cfg.tune.trials <= 0:
        return None
    return tfx.components.Tuner(
        tuner_fn=TUNER_FN,
        examples=examples,
        transform_graph=transform_graph,
        schema=schema,
        train_args=tfx.proto.TrainArgs(splits=[features.TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[features.VALIDATION_SPLIT]),
        custom_config={SETTINGS_KEY: carrier.to_json(TunerSettings.from_config(cfg))},
    ).with_id(NODE_ID)
