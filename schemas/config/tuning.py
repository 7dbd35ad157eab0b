"""The `tune` section: TFX's Tuner with KerasTuner's oracles, off by default (`trials: 0`).

When `trials` > 0 a Tuner step runs between Transform and Trainer: each trial fits a network drawn from
the search space (components/tuner/space.py) for at most `max_epochs` epochs and is scored on the
validation split (never test); the best trial's values feed the Trainer over `train.*` / `model.*`.
"""
from __future__ import annotations

from dataclasses import dataclass

from schemas.config.base import check

TUNE_ALGORITHMS = ("random", "hyperband", "bayesian")


@dataclass
class TuneConfig:
    trials: int = 0              # 0: no Tuner step; N: at most N trials, each scored on the validation split
    max_epochs: int = 6          # epochs per trial (hyperband: the most any trial gets)
    algorithm: str = "random"    # random, hyperband or bayesian: KerasTuner's oracle that proposes the trials

    def validate(self) -> None:
        check(self.trials >= 0, "tune.trials", self.trials, "an integer >= 0 (0 turns the Tuner off)")
        check(self.max_epochs >= 1, "tune.max_epochs", self.max_epochs, "an integer >= 1")
        check(self.algorithm in TUNE_ALGORITHMS, "tune.algorithm", self.algorithm,
              "one of " + ", ".join(TUNE_ALGORITHMS))
