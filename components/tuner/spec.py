"""The Tuner's interface: its node id, user code path, the files TFX's Tuner writes, and its typed settings.

Light (no TensorFlow): the pipeline, the summary and the model card read these names.
"""
from __future__ import annotations

import dataclasses

from components.trainer.spec import TrainerSettings
from schemas.config import Config, TuneConfig

NODE_ID = "Tuner"
# user code, referenced by import path (never module_file=): the installed package is what runs
TUNER_FN = "components.tuner.tuner_fn.tuner_fn"
SETTINGS_KEY = "settings"  # the one custom_config key: TunerSettings

OBJECTIVE = "val_accuracy"  # what a trial is judged by: accuracy on the validation split (never test)
# What TFX's Tuner executor writes (tfx/components/tuner/executor.py), in KerasTuner's formats:
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.txt"  # HyperParameters.get_config() of the best trial
RESULTS_FILE = "tuner_results.json"                     # [{trial_id, score, <name>: value}, ...], best first
HYPERPARAMETERS_TYPE = "HyperParameters"                # the artifact types of those two outputs
RESULTS_TYPE = "TunerResults"


@dataclasses.dataclass(frozen=True)
class TunerSettings:
    """What the Tuner reads: the Trainer's settings (each trial fits as the Trainer would) and `tune.*`."""
    trainer: TrainerSettings
    tune: TuneConfig

    @classmethod
    def from_config(cls, cfg: Config) -> "TunerSettings":
        return cls(trainer=TrainerSettings.from_config(cfg), tune=cfg.tune)
