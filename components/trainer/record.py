"""The one record of how training went: written once by run_fn, read by the summary and the report.

`training.json` in the Trainer's ModelRun artifact (and, as the `training` entry of the model's facts
file, with the exported model): epochs planned and run, the epoch kept and why, why training stopped,
the metrics at the kept epoch, every epoch's metrics and seconds, how the model was started, the
hyperparameters the Tuner found (`hyperparameters`: {name: value}, {} without a Tuner step), and (added
by run_fn) the backbone's phases and where the decoded images stayed between epochs (`input`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from components.fs import read_json, write_json
from components.trainer.spec import TRAINING_RECORD_FILE


def training_record(report: Dict[str, Any], epochs_planned: int, epoch_seconds: List[float],
                    early_stopping: Optional[Dict[str, Any]], start: str,
                    hyperparameters: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """schedule.training_report's facts plus what only the fit loop knows (times, the stopper, the start)
    and the tuned hyperparameters applied over the config."""
    return {**report, "epochs_planned": epochs_planned, "epoch_seconds": list(epoch_seconds),
            "early_stopping": early_stopping, "start": start, "hyperparameters": dict(hyperparameters or {})}


def write_training_record(model_run_dir: str, record: Dict[str, Any]) -> str:
    return write_json(f"{model_run_dir.rstrip('/')}/{TRAINING_RECORD_FILE}", record)


def read_training_record(model_run_uri: str) -> Dict[str, Any]:
    """The record in a ModelRun artifact; {} when there is none (the Trainer failed or never ran)."""
    return (read_json(f"{model_run_uri.rstrip('/')}/{TRAINING_RECORD_FILE}") or {}) if model_run_uri else {}


def per_epoch(record: Dict[str, Any]) -> List[Dict[str, float]]:
    """The history as one {metric: value} dict per epoch (what the report's table and curves draw)."""
    history = record.get("history") or {}
    epochs = max((len(v) for v in history.values()), default=0)
    return [{k: v[i] for k, v in history.items() if i < len(v)} for i in range(epochs)]
