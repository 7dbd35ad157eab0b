"""Reading the Tuner's two outputs back (TFX's Tuner executor writes them): the best values and every trial.

The run summary's `Tuning:` line and the model card read them here, beside spec.py's file names.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from components.fs import read_json
from components.tuner.space import format_values, tuned_values
from components.tuner.spec import BEST_HYPERPARAMETERS_FILE, OBJECTIVE, RESULTS_FILE, SETTINGS_KEY


def read_best_values(hyperparameters_uri: str) -> Dict[str, Any]:
    """{name: value} of the best trial in a HyperParameters artifact; {} when there is none."""
    if not hyperparameters_uri:
        return {}
    return tuned_values(read_json(f"{hyperparameters_uri.rstrip('/')}/{BEST_HYPERPARAMETERS_FILE}"))


def read_trials(results_uri: str) -> List[Dict[str, Any]]:
    """The completed trials in a TunerResults artifact, best first: [{trial_id, score, <name>: value}]."""
    return list(read_json(f"{results_uri.rstrip('/')}/{RESULTS_FILE}") or []) if results_uri else []


def tuning_line(trials: List[Dict[str, Any]], algorithm: str, best: Dict[str, Any]) -> str:
    """`Tuning: 4 trials (random), best val_accuracy 1.000 on the validation split: learning_rate 0.001, ...`."""
    if not trials:
        return f"Tuning: no completed trial ({algorithm})"
    score = max(t["score"] for t in trials)
    return (f"Tuning: {len(trials)} trials ({algorithm}), best {OBJECTIVE} {score:.3f} on the validation split: "
            f"{format_values(best)}")


def algorithm_of(custom_config: str) -> str:
    """tune.algorithm from the Tuner execution's recorded custom_config (its TunerSettings JSON)."""
    try:
        return json.loads(json.loads(custom_config)[SETTINGS_KEY])["tune"]["algorithm"]
    except (TypeError, ValueError, KeyError):
        return "?"
