"""`tuner_fn` for TFX's Tuner: KerasTuner's oracles propose, our own tf_keras code fits and scores.

KerasTuner's built-in tuners (RandomSearch, Hyperband, BayesianOptimization) refuse tf_keras models
(keras-team/keras-tuner#1039): they check for Keras 3 models. So `TrialRunner` is a `BaseTuner` without a
hypermodel: its oracle (RandomSearchOracle, HyperbandOracle or BayesianOptimizationOracle, per
tune.algorithm) proposes each trial's values from space.py's search space, and `run_trial` builds the
Trainer's own network with them (components/trainer/train.py compiled_network), fits it on the train split
and returns its best validation accuracy. TFX's Tuner executor then writes `best_hyperparameters` in
KerasTuner's format, which the Trainer reads as its `hyperparameters` input.

Each trial trains from scratch for tune.max_epochs epochs (Hyperband: the epochs its bracket gives, also
from scratch), with the learning-rate schedule laid over those epochs and no early stopping.
"""
from __future__ import annotations

import dataclasses
import logging as py_logging
import time
from typing import Any, Dict

import keras_tuner
from absl import logging
from tfx import v1 as tfx

from components.trainer.distribution import make_strategy
from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
from components.trainer.train import TrainingInputs, compiled_network, training_inputs
from components.tuner.space import format_values, search_space, tuned_values, with_hyperparameters
from components.tuner.spec import NODE_ID, OBJECTIVE, SETTINGS_KEY, TunerSettings
from schemas import carrier
from schemas.config import TuneConfig
from schemas.runtime import PROGRESS_LOGGER

PROGRESS_LOG = py_logging.getLogger(PROGRESS_LOGGER)


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """The tuner TFX's Tuner executor searches with; the datasets are built once and shared by every trial."""
    skip_autograph_for_tf_keras()
    settings = carrier.from_json(TunerSettings, fn_args.custom_config[SETTINGS_KEY])
    trainer = dataclasses.replace(settings.trainer, train=dataclasses.replace(settings.trainer.train, warm_start=False))
    seed_and_determinism(trainer.train.seed, trainer.train.deterministic)
    inputs = training_inputs(fn_args, trainer)
    hp = search_space(trainer.model, trainer.train.learning_rate, inputs.image_size)
    oracle = make_oracle(settings.tune, hp, trainer.train.seed)
    runner = TrialRunner(oracle, inputs, settings.tune, directory=fn_args.working_dir, project_name=NODE_ID)
    return tfx.components.TunerFnResult(tuner=runner, fit_kwargs={})


def make_oracle(tune: TuneConfig, hp, seed: int) -> keras_tuner.Oracle:
    """tune.algorithm's KerasTuner oracle over `hp`, stopping after tune.trials trials."""
    objective = keras_tuner.Objective(OBJECTIVE, direction="max")
    common = dict(objective=objective, hyperparameters=hp, allow_new_entries=False, tune_new_entries=True, seed=seed)
    if tune.algorithm == "hyperband":
        oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=tune.max_epochs, factor=3, **common)
        oracle.max_trials = tune.trials  # Hyperband counts brackets, not trials: cap it at tune.trials
        return oracle
    if tune.algorithm == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(max_trials=tune.trials, **common)
    return keras_tuner.oracles.RandomSearchOracle(max_trials=tune.trials, **common)


class TrialRunner(keras_tuner.engine.base_tuner.BaseTuner):
    """A KerasTuner tuner whose trials are the Trainer's tf_keras network, fitted by our code."""

    def __init__(self, oracle: keras_tuner.Oracle, inputs: TrainingInputs, tune: TuneConfig, **kwargs):
        super().__init__(oracle, overwrite=True, **kwargs)
        self.inputs, self.tune = inputs, tune
        self.oracle.verbose = 0  # KerasTuner's own per-trial tables: our one progress line per trial instead

    def on_search_end(self) -> None:
        """After the last trial: remove the trials' disk cache of decoded images, if any (input_cache.py)."""
        super().on_search_end()
        self.inputs.cache.release()

    def search_space_summary(self, extended=False) -> None:
        """TFX's executor asks for KerasTuner's printed summaries: into the log, not onto the console."""
        logging.info("Tuner search space: %s", [p.get_config() for p in self.oracle.get_space().space])

    def results_summary(self, num_trials=10) -> None:
        logging.info("Tuner results: %s", [(t.trial_id, t.score, t.hyperparameters.values)
                                           for t in self.oracle.get_best_trials(num_trials)])

    def run_trial(self, trial, *fit_args, **fit_kwargs) -> Dict[str, float]:
        try:
            return self._fit(trial.trial_id, trial.hyperparameters.values)
        except Exception as error:  # KerasTuner would mark the trial invalid and go on silently
            raise keras_tuner.errors.FatalError(f"Tuner trial {trial.trial_id} failed: {error}") from error

    def _fit(self, trial_id: str, values: Dict[str, Any]) -> Dict[str, float]:
        epochs = int(values.get("tuner/epochs", self.tune.max_epochs))
        chosen = tuned_values({"values": values})
        cfg = with_hyperparameters(self.inputs.cfg, chosen)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))
        started = time.monotonic()
        with make_strategy().scope():
            compiled = compiled_network(dataclasses.replace(self.inputs, cfg=cfg))
        history = compiled.model.fit(self.inputs.train_ds, steps_per_epoch=self.inputs.steps_per_epoch,
                                     validation_data=self.inputs.validation_ds, epochs=epochs,
                                     callbacks=compiled.callbacks, verbose=0).history
        best = max(range(len(history[OBJECTIVE])), key=lambda i: (history[OBJECTIVE][i], -history["val_loss"][i]))
        score = {OBJECTIVE: float(history[OBJECTIVE][best]), "val_loss": float(history["val_loss"][best])}
        PROGRESS_LOG.info("Tuner trial %s: %s -> %s %.4f at epoch %d of %d (%.1f s)", trial_id, format_values(chosen),
                          OBJECTIVE, score[OBJECTIVE], best + 1, epochs, time.monotonic() - started)
        logging.info("Tuner trial %s: %s", trial_id, score)
        return score
