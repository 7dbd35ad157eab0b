"""The Trainer: TFX's generic Trainer running `run_fn` (train.py) with the typed TrainerSettings."""
from __future__ import annotations

from tfx import v1 as tfx

from components.trainer.spec import NODE_ID, RUN_FN, SETTINGS_KEY, TrainerSettings
from schemas import carrier, features
from schemas.config import Config


def create_trainer(cfg: Config, examples, transform_graph, schema, base_model=None,
                   train_args=None, hyperparameters=None) -> tfx.components.Trainer:
    """Fits on the raw train split through the Transform graph and picks its epoch on validation (never test).

    `base_model` (the served model, with train.warm_start) seeds the weights when it fits. `train_args`
    defaults to the train split with no step cap; the Kubeflow runner passes a RuntimeParameter so a
    scheduled run can cap the training steps. `hyperparameters` (the Tuner's best_hyperparameters, with
    tune.trials > 0) replace the config's values of what was searched (components/tuner/space.py).
    """
    return tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=examples,
        transform_graph=transform_graph,
        schema=schema,
        train_args=train_args if train_args is not None else tfx.proto.TrainArgs(splits=[features.TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[features.VALIDATION_SPLIT]),
        base_model=base_model if cfg.train.warm_start else None,
        hyperparameters=hyperparameters,
        custom_config={SETTINGS_KEY: carrier.to_json(TrainerSettings.from_config(cfg))},
    ).with_id(NODE_ID)
