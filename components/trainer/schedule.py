"""How training runs and ends: batch size, the learning-rate schedule, early stopping, and the report of
which epoch was kept.

Schedule (train.lr_schedule="cosine", the default): the learning rate rises
linearly from 0 to train.learning_rate over train.warmup_epochs (at most half
of the training), then follows a cosine down to 0 at the last epoch. Warm-up
keeps Adam's first, badly-estimated steps from knocking BatchNorm statistics
about; the decay lets the weights settle instead of swinging from epoch to
epoch at a constant rate (measured in docs/real_data.md).

Early stopping (train.early_stopping_patience > 0, the default) keeps the best
*watched* epoch, and stops once `patience` watched epochs in a row have
improved nothing at all:

- it watches only from the epoch after the warm-up and the first third of
  train.epochs (`first_watched_epoch`): early epochs are judged by BatchNorm
  statistics that have not settled, on a validation split of a few dozen
  images, so their loss is noise; a schedule that is still warming up or at
  its peak learning rate is not yet converging anyway;
- the kept epoch is the "best" one: the highest validation accuracy (what the
  gate judges), with ties, common on a small split, going to the lower
  validation loss;
- training goes on while either validation figure still improves: a new
  best (as above) or a new lowest validation loss. On 800 validation digits
  accuracy sits on a plateau in mid-training while the cosine schedule is
  still lowering the loss; stopping on accuracy alone ended two of three
  MNIST runs near epoch 15 at 0.945-0.954 held-out accuracy (docs/real_data.md).
  A run that overfits (loss rising, accuracy flat) still stops.

On batches of a few hundred images the plain val_loss rule (patience 6 from
epoch 1) kept epoch 1 of runs whose accuracy was still rising: see docs/model.md.

The report says which epoch's weights were kept and why, and why training
stopped; run_fn keeps it in the one training record (record.py), which the run
summary prints and the report draws.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Union

import numpy as np
import tf_keras as keras

from components.trainer.input_cache import decoded_bytes
from schemas.config import TrainConfig
from schemas.features import VALIDATION_SPLIT

MONITOR = "val_accuracy"      # early stopping keeps the epoch with the best accuracy on the held-out split ...
TIE_BREAK = "val_loss"        # ... and among equally accurate epochs, the lowest loss
HELD_OUT_SPLIT = VALIDATION_SPLIT  # the split Keras calls "val_"
WATCH_AFTER_FRACTION = 1 / 3  # no epoch of the first third of train.epochs is watched (or kept)


SMALLEST_AUTO_BATCH = 8  # BatchNorm's batch statistics get too noisy below this


def batch_size(cfg: TrainConfig, train_images: int) -> int:
    """train.batch_size, lowered so an epoch has at least train.min_steps_per_epoch steps.

    On a 300-image batch (233 training images) 32 gives 8 steps per epoch, 200 in 25
    epochs: some seeds stop short (test accuracy 0.889 on 36 images); 14 per step gave
    0.944-1.000 over 5 seeds for the same compute (docs/model.md#small-batches).
    """
    if cfg.min_steps_per_epoch <= 0:
        return cfg.batch_size
    return max(min(cfg.batch_size, SMALLEST_AUTO_BATCH), min(cfg.batch_size, train_images // cfg.min_steps_per_epoch))


def steps_per_execution(cfg: TrainConfig, steps_per_epoch: int, max_steps: Optional[int] = None) -> int:
    """train.steps_per_execution batches per call into the compiled training step. Keras shortens an epoch's
    last execution itself; it stops only between executions, so with a step cap (--param train_steps) the
    number is lowered to the largest that divides both the epoch's steps and the cap: the cap stays exact.

    16 batches per call ran the default network's epoch in 0.94x the time of one (6,400 images at 28 px,
    2 cores; docs/performance.md#batches-per-call)."""
    if not max_steps:
        return cfg.steps_per_execution
    limit = math.gcd(steps_per_epoch, max_steps)
    return max(k for k in range(1, min(cfg.steps_per_execution, limit) + 1) if limit % k == 0)


def shuffle_buffer(cfg: TrainConfig, train_images: int, image_size: int) -> int:
    """train.shuffle_buffer, with 0 resolved: the whole train split, up to what train.cache_max_mb holds.

    The image ExampleGen writes a split class by class (its folders in order), so a buffer smaller
    than the split fills each epoch's first batches with one or two classes. On 6,400 MNIST digits the
    whole split was ahead of a 1,000-image buffer (the old default) on each of 3 seeds, by 1-3 held-out
    images of 1,000 (docs/model.md#shuffling).
    When the split is cached in memory the buffer holds references to the cached images, not copies.
    """
    if cfg.shuffle_buffer > 0:
        return cfg.shuffle_buffer
    fits = int(cfg.cache_max_mb * 2**20 // max(1, decoded_bytes(1, image_size)))
    return max(1, min(train_images, fits))


def learning_rate(cfg: TrainConfig, steps_per_epoch: int) -> Union[float, keras.optimizers.schedules.LearningRateSchedule]:
    """train.learning_rate as a constant, or warm-up + cosine decay over the planned steps."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(round(cfg.warmup_epochs * steps_per_epoch), total // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=total - warmup, alpha=0.0,
        warmup_target=cfg.learning_rate, warmup_steps=warmup)


def first_watched_epoch(cfg: TrainConfig) -> int:
    """The first epoch (1-based) early stopping watches: after the warm-up and after the first third of the epochs."""
    warmup = math.ceil(cfg.warmup_epochs) if cfg.lr_schedule == "cosine" else 0
    return max(warmup, math.floor(cfg.epochs * WATCH_AFTER_FRACTION)) + 1


class KeepBestEpoch(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping with a start epoch, a two-key score (val_accuracy, ties to the lower val_loss)
    for the epoch kept, and a patience that any progress resets (a better score or a lower val_loss).

    Keras restores the best watched epoch's weights at the end of training,
    whether it stopped early or ran every epoch; `watched` says whether any
    epoch was watched at all (a run shorter than the first watched epoch keeps its last).
    """

    def __init__(self, patience: int, first_epoch: int):
        super().__init__(monitor=MONITOR, mode="max", patience=patience, restore_best_weights=True,
                         start_from_epoch=first_epoch - 1)
        self.tie_break, self.first_epoch, self.watched = TIE_BREAK, first_epoch, False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best, self.lowest_loss, self.watched = (-np.inf, np.inf), np.inf, False

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.watched = True
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch, self.best_weights = current, epoch, self.model.get_weights()
            self.wait = 0
        if current[1] < self.lowest_loss:
            self.lowest_loss, self.wait = current[1], 0
        if self.wait >= self.patience:
            self.stopped_epoch, self.model.stop_training = epoch, True

    def get_monitor_value(self, logs):
        logs = logs or {}
        if logs.get(MONITOR) is None or logs.get(TIE_BREAK) is None:
            return None
        return float(logs[MONITOR]), float(logs[TIE_BREAK])

    def _is_improvement(self, monitor_value, reference_value):
        (accuracy, loss), (best_accuracy, best_loss) = monitor_value, reference_value
        if not math.isclose(accuracy, best_accuracy, rel_tol=0, abs_tol=1e-9):
            return accuracy > best_accuracy
        return loss < best_loss


def early_stopping(cfg: TrainConfig) -> Optional[KeepBestEpoch]:
    """The rule above with patience train.early_stopping_patience; None when it is 0 (off)."""
    if cfg.early_stopping_patience <= 0:
        return None
    return KeepBestEpoch(cfg.early_stopping_patience, first_watched_epoch(cfg))


def stopping_facts(stopper: Optional[KeepBestEpoch]) -> Optional[Dict[str, Any]]:
    """Early stopping in the training record (the report's training section); epochs 1-based, None when off."""
    if stopper is None:
        return None
    return {"stopped_epoch": int(stopper.stopped_epoch) + 1 if stopper.stopped_epoch else None,
            "best_epoch": int(stopper.best_epoch) + 1 if stopper.watched else None,
            "monitor": f"{MONITOR}, ties to the lower {TIE_BREAK}", "first_watched_epoch": stopper.first_epoch,
            "patience": stopper.patience}


def training_report(history: Dict[str, List[float]], cfg: TrainConfig,
                    stopper: Optional[keras.callbacks.EarlyStopping], step_cap=None) -> Dict[str, Any]:
    """Epochs run, the epoch whose weights were kept (1-based), why training stopped, and the history."""
    epochs_run = len(history.get("loss", []))
    if stopper is not None and stopper.watched:
        kept = stopper.best_epoch + 1
        kept_why = (f"highest {MONITOR} on the {HELD_OUT_SPLIT} split, ties to the lower {TIE_BREAK}, among "
                    f"epochs {stopper.first_epoch}-{epochs_run}; weights restored")
    elif stopper is not None:
        kept = epochs_run
        kept_why = f"the last epoch (training ended before early stopping watched from epoch {stopper.first_epoch})"
    else:
        kept = epochs_run
        kept_why = "the last epoch (early stopping off: train.early_stopping_patience=0)"
    if stopper is not None and stopper.stopped_epoch > 0:
        last_progress = stopper.stopped_epoch + 1 - cfg.early_stopping_patience
        stop = (f"early stopping: neither a better {MONITOR} (or equal with a lower {TIE_BREAK}) nor a lower "
                f"{TIE_BREAK} for {cfg.early_stopping_patience} epochs after epoch {last_progress}")
    elif step_cap is not None and step_cap.model.stop_training and epochs_run < cfg.epochs:
        stop = f"the step cap (TrainArgs num_steps={step_cap.max_steps})"
    else:
        stop = f"reached train.epochs={cfg.epochs}"
    at_kept = {key: round(values[kept - 1], 6) for key, values in history.items() if len(values) >= kept > 0}
    return {"epochs_run": epochs_run, "kept_epoch": kept, "kept_why": kept_why, "stopped_because": stop,
            "batch_size": cfg.batch_size, "shuffle_buffer": cfg.shuffle_buffer,
            "metrics_at_kept_epoch": at_kept,
            "history": {key: [round(v, 6) for v in values] for key, values in history.items()}}
