"""The training schedule: warm-up + cosine decay, and early stopping that keeps the best epoch."""
import numpy as np
import pytest
import tf_keras as keras

from components.trainer.schedule import early_stopping, learning_rate, training_report
from schemas.config import build_config


def test_learning_rate_warms_up_then_decays_to_zero_over_the_planned_steps():
    cfg = build_config(overrides=["train.epochs=10", "train.learning_rate=0.01", "train.warmup_epochs=1"]).train
    schedule = learning_rate(cfg, steps_per_epoch=20)
    at = lambda step: float(schedule(step))  # noqa: E731
    assert at(0) == 0.0 and at(10) == pytest.approx(0.005) and at(20) == pytest.approx(0.01)
    assert at(20) > at(110) > at(190) > at(199) >= 0 and at(200) == pytest.approx(0.0, abs=1e-9)


def test_warm_up_never_takes_more_than_half_of_a_short_training():
    cfg = build_config(overrides=["train.epochs=1", "train.warmup_epochs=3", "train.learning_rate=0.01"]).train
    schedule = learning_rate(cfg, steps_per_epoch=10)
    assert float(schedule(5)) == pytest.approx(0.01)


def test_constant_schedule_is_the_plain_learning_rate():
    cfg = build_config(overrides=["train.lr_schedule=constant", "train.learning_rate=0.003"]).train
    assert learning_rate(cfg, steps_per_epoch=10) == 0.003


class WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def overfitting_fit(patience: int, epochs: int = 40):
    """A dense net memorising random labels: val_loss falls for a while, then rises."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 2, 64)
    x_val, y_val = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 2, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2, activation="softmax")])
    cfg = build_config(overrides=[f"train.epochs={epochs}", f"train.early_stopping_patience={patience}",
                                  "train.learning_rate=0.01"]).train
    model.compile(keras.optimizers.Adam(learning_rate(cfg, steps_per_epoch=4)), "sparse_categorical_crossentropy")
    stopper, recorder = early_stopping(cfg), WeightsPerEpoch()
    history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=epochs, verbose=0,
                        callbacks=[c for c in (stopper, recorder) if c is not None])
    return model, recorder.weights, training_report(history.history, cfg, stopper), history.history


def test_early_stopping_fires_and_the_kept_epoch_is_the_best_validation_epoch():
    model, per_epoch, report, history = overfitting_fit(patience=3)
    best = int(np.argmin(history["val_loss"])) + 1
    assert report["kept_epoch"] == best
    assert report["epochs_run"] == best + 3 < 40
    assert report["stopped_because"] == f"early stopping: val_loss did not improve for 3 epochs after epoch {best}"
    assert report["metrics_at_kept_epoch"]["val_loss"] == pytest.approx(min(history["val_loss"]), abs=1e-6)
    for restored, kept in zip(model.get_weights(), per_epoch[best - 1]):
        np.testing.assert_array_equal(restored, kept)


def test_without_early_stopping_the_last_epoch_is_kept_and_the_report_says_so():
    _, _, report, _ = overfitting_fit(patience=0, epochs=3)
    assert (report["epochs_run"], report["kept_epoch"]) == (3, 3)
    assert report["stopped_because"] == "reached train.epochs=3"
    assert "early stopping off" in report["kept_why"]
