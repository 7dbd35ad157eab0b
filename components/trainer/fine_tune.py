"""Fine-tuning a pretrained backbone in two phases, inside one `model.fit()`.

    epochs 1 .. F         the head only: the backbone is frozen (train.freeze_backbone_epochs = F)
    epochs F+1 .. end     the whole network, at train.fine_tune_lr_factor x the learning rate

A random head on top of pretrained features sends large gradients into the backbone and wrecks what
it learned; training the head first, then everything gently, keeps it (Keras' transfer-learning
guide). While the backbone is frozen its BatchNorm layers run in inference mode (a tf_keras BN layer
with trainable=False does). In the second phase the Keras applications keep them in inference mode
(called with training=False, as in the guide: their ImageNet statistics come from far more images
than a fine-tuning batch holds), while resnet_cnn's re-estimate theirs: on the digits transfer
(bench/bench_transfer.py --reverse, the direction the defaults were chosen on) that measured 0.969
against 0.954 with them frozen.

One fit() rather than two keeps one history, one EarlyStopping and one epoch count: the epoch kept
and why (schedule.training_report) mean the same across both phases, and the report names the
phase the kept epoch comes from. Without pretrained weights (model.backbone_weights=none) there is
one phase, the whole network at train.learning_rate.
"""
from __future__ import annotations

import logging as py_logging
from typing import Any, Dict, List

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from components.trainer.backbones import backbone_layers
from schemas.backbones import WEIGHTS_NONE, auto_fine_tune_lr_factor, weights_source
from schemas.config import AUTO, Config
from schemas.runtime import PROGRESS_LOGGER

PROGRESS_LOG = py_logging.getLogger(PROGRESS_LOGGER)


def pretrained(cfg: Config) -> bool:
    return weights_source(cfg.model) != WEIGHTS_NONE


def fine_tune_learning_rate(base, cfg: Config, steps_per_epoch: int):
    """The learning rate (a number or schedule), times train.fine_tune_lr_factor from the second phase on."""
    if not pretrained(cfg):
        return base
    return PhasedLearningRate(base, cfg.train.freeze_backbone_epochs * steps_per_epoch, lr_factor(cfg))


def lr_factor(cfg: Config) -> float:
    """train.fine_tune_lr_factor, `auto` resolved for model.backbone (schemas/backbones.py says why)."""
    if cfg.train.fine_tune_lr_factor == AUTO:
        return auto_fine_tune_lr_factor(cfg.model.backbone)
    return float(cfg.train.fine_tune_lr_factor)


@keras.utils.register_keras_serializable(package="imgpipe")
class PhasedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """`base` for the first `boundary_step` steps, `factor` x `base` after."""

    def __init__(self, base, boundary_step: int, factor: float):
        super().__init__()
        self.base, self.boundary_step, self.factor = base, int(boundary_step), float(factor)

    def __call__(self, step):
        rate = self.base(step) if callable(self.base) else tf.constant(self.base, tf.float32)
        return tf.where(tf.cast(step, tf.int64) < self.boundary_step, rate, rate * self.factor)

    def get_config(self) -> Dict[str, Any]:
        base = (keras.optimizers.schedules.serialize(self.base)
                if isinstance(self.base, keras.optimizers.schedules.LearningRateSchedule) else self.base)
        return {"base": base, "boundary_step": self.boundary_step, "factor": self.factor}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "PhasedLearningRate":
        base = config["base"]
        if isinstance(base, dict):
            base = keras.optimizers.schedules.deserialize(base)
        return cls(base, config["boundary_step"], config["factor"])


class FineTuning(keras.callbacks.Callback):
    """Freezes the backbone before the first epoch and unfreezes it at epoch F+1.

    Keras traces the training step once with the trainable variables of that moment, and fit() first
    resets every layer to its trainable state at compile(): so the backbone is frozen before compile,
    and the switch re-traces the step (make_train_function(force=True); fit() calls self.train_function
    each step). The optimizer is built on every variable first, so the backbone's can join later."""

    def __init__(self, freeze_epochs: int, backbone: List[layers.Layer]):
        super().__init__()
        self.freeze_epochs, self.backbone = freeze_epochs, backbone

    def prepare(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        """Before compile(), in the strategy scope: build the optimizer on every variable, freeze the backbone."""
        optimizer.build(model.trainable_variables)
        set_backbone_trainable(self.backbone, self.freeze_epochs == 0)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.freeze_epochs and epoch > 0:
            set_backbone_trainable(self.backbone, True)
            self.model.make_train_function(force=True)
            PROGRESS_LOG.info("Epoch %d: the backbone joins training (fine-tuning phase)", epoch + 1)


def set_backbone_trainable(backbone: List[layers.Layer], trainable: bool) -> None:
    """Freeze (BatchNorm in inference mode) or unfreeze the backbone's layers."""
    for layer in backbone:
        layer.trainable = trainable


def fine_tuning(cfg: Config, model: keras.Model, optimizer) -> List[keras.callbacks.Callback]:
    """[FineTuning] for a pretrained backbone, prepared (call before compile(), in the strategy scope); else []."""
    if not pretrained(cfg):
        return []
    callback = FineTuning(min(cfg.train.freeze_backbone_epochs, cfg.train.epochs), backbone_layers(model))
    callback.prepare(model, optimizer)
    return [callback]


def phases(cfg: Config, kept_epoch: int) -> Dict[str, Any]:
    """What the report says about the two phases, and which one the kept epoch belongs to."""
    source = weights_source(cfg.model)
    if source == WEIGHTS_NONE:
        return {"backbone": cfg.model.backbone, "weights": source,
                "phases": "one: the whole network from random weights at train.learning_rate"}
    frozen = min(cfg.train.freeze_backbone_epochs, cfg.train.epochs)
    head = f"{_epochs(1, frozen)}: the head only (backbone frozen)" if frozen else ""
    auto = " (auto)" if cfg.train.fine_tune_lr_factor == AUTO else ""
    rest = (f"{_epochs(frozen + 1, cfg.train.epochs)}: the whole network at train.fine_tune_lr_factor="
            f"{lr_factor(cfg)}{auto} x the learning rate" if frozen < cfg.train.epochs else "")
    return {"backbone": cfg.model.backbone, "weights": source,
            "phases": "; ".join(p for p in (head, rest) if p),
            "kept_epoch_phase": "head only" if kept_epoch <= frozen else "whole network"}


def _epochs(first: int, last: int) -> str:
    return f"epoch {first}" if first == last else f"epochs {first}-{last}"
