"""How training runs and ends: the learning-rate schedule and the report of which epoch was kept.

Schedule (train.lr_schedule="cosine", the default): the learning rate rises
linearly from 0 to train.learning_rate over train.warmup_epochs (at most half
of the training), then follows a cosine down to 0 at the last epoch. Warm-up
keeps Adam's first, badly-estimated steps from knocking BatchNorm statistics
about; the decay lets the weights settle instead of swinging from epoch to
epoch at a constant rate (measured in docs/real_data.md).

The report says which epoch's weights were kept (the best val_loss when early
stopping is on) and why training stopped; run_fn keeps it in the one training
record (record.py), which the run summary prints and the report draws.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import tf_keras as keras

from schemas.config import TrainConfig
from schemas.features import VALIDATION_SPLIT

MONITOR = "val_loss"          # early stopping watches the loss on the held-out split
HELD_OUT_SPLIT = VALIDATION_SPLIT  # the split Keras calls "val_"


def learning_rate(cfg: TrainConfig, steps_per_epoch: int) -> Union[float, keras.optimizers.schedules.LearningRateSchedule]:
    """train.learning_rate as a constant, or warm-up + cosine decay over the planned steps."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(round(cfg.warmup_epochs * steps_per_epoch), total // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=total - warmup, alpha=0.0,
        warmup_target=cfg.learning_rate, warmup_steps=warmup)


def early_stopping(cfg: TrainConfig) -> Optional[keras.callbacks.EarlyStopping]:
    """Stops after train.early_stopping_patience epochs without a better val_loss; keeps the best epoch."""
    if cfg.early_stopping_patience <= 0:
        return None
    return keras.callbacks.EarlyStopping(monitor=MONITOR, patience=cfg.early_stopping_patience,
                                         restore_best_weights=True)


def training_report(history: Dict[str, List[float]], cfg: TrainConfig,
                    stopper: Optional[keras.callbacks.EarlyStopping], step_cap=None) -> Dict[str, Any]:
    """Epochs run, the epoch whose weights were kept (1-based), why training stopped, and the history."""
    epochs_run = len(history.get("loss", []))
    if stopper is not None and history.get(MONITOR):
        kept = stopper.best_epoch + 1
        kept_why = f"lowest {MONITOR} ({HELD_OUT_SPLIT} split loss), weights restored"
    else:
        kept = epochs_run
        kept_why = "the last epoch (early stopping off: train.early_stopping_patience=0)"
    if stopper is not None and stopper.stopped_epoch > 0:
        stop = (f"early stopping: {MONITOR} did not improve for {cfg.early_stopping_patience} epochs "
                f"after epoch {kept}")
    elif step_cap is not None and step_cap.model.stop_training and epochs_run < cfg.epochs:
        stop = f"the step cap (TrainArgs num_steps={step_cap.max_steps})"
    else:
        stop = f"reached train.epochs={cfg.epochs}"
    at_kept = {key: round(values[kept - 1], 6) for key, values in history.items() if len(values) >= kept > 0}
    return {"epochs_run": epochs_run, "kept_epoch": kept, "kept_why": kept_why, "stopped_because": stop,
            "metrics_at_kept_epoch": at_kept,
            "history": {key: [round(v, 6) for v in values] for key, values in history.items()}}
