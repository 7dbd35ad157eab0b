"""The training schedule: warm-up + cosine decay, and early stopping that keeps the best watched epoch."""
import numpy as np
import pytest
import tf_keras as keras

from components.trainer.schedule import (KeepBestEpoch, early_stopping, first_watched_epoch, learning_rate,
                                         stopping_facts, training_report)
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
    """A dense net memorising random labels: validation accuracy peaks for a while, then wanders."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 2, 64)
    x_val, y_val = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 2, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2, activation="softmax")])
    cfg = build_config(overrides=[f"train.epochs={epochs}", f"train.early_stopping_patience={patience}",
                                  "train.learning_rate=0.01"]).train
    model.compile(keras.optimizers.Adam(learning_rate(cfg, steps_per_epoch=4)), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stopper, recorder = early_stopping(cfg), WeightsPerEpoch()
    history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=epochs, verbose=0,
                        callbacks=[c for c in (stopper, recorder) if c is not None])
    return model, recorder.weights, training_report(history.history, cfg, stopper), history.history


def best_watched(history, first: int) -> int:
    """1-based epoch with the highest val_accuracy from epoch `first` on, ties to the lower val_loss."""
    scores = [(a, -l, -i) for i, (a, l) in enumerate(zip(history["val_accuracy"], history["val_loss"])) if i >= first - 1]
    return -max(scores)[2] + 1


def test_early_stopping_fires_and_restores_the_best_watched_epoch():
    model, per_epoch, report, history = overfitting_fit(patience=3)
    first = first_watched_epoch(build_config(overrides=["train.epochs=40"]).train)
    assert first == 14  # after the first third of 40 epochs
    kept = best_watched(history, first)
    assert report["kept_epoch"] == kept >= first
    assert report["epochs_run"] < 40
    watched = list(zip(history["val_accuracy"], history["val_loss"]))[first - 1:]
    last_progress = max(first + i for i, (a, l) in enumerate(watched)
                        if all(l < l0 for _, l0 in watched[:i]) or first + i == kept)
    assert report["epochs_run"] == last_progress + 3
    assert report["stopped_because"] == ("early stopping: neither a better val_accuracy (or equal with a lower "
                                         f"val_loss) nor a lower val_loss for 3 epochs after epoch {last_progress}")
    assert report["kept_why"] == ("highest val_accuracy on the validation split, ties to the lower val_loss, "
                                  f"among epochs {first}-{report['epochs_run']}; weights restored")
    for restored, weights in zip(model.get_weights(), per_epoch[kept - 1]):
        np.testing.assert_array_equal(restored, weights)


def test_without_early_stopping_the_last_epoch_is_kept_and_the_report_says_so():
    _, _, report, _ = overfitting_fit(patience=0, epochs=3)
    assert (report["epochs_run"], report["kept_epoch"]) == (3, 3)
    assert report["stopped_because"] == "reached train.epochs=3"
    assert "early stopping off" in report["kept_why"]


@pytest.mark.parametrize("overrides, first", [
    (["train.epochs=25"], 9),                              # epochs 1-8 are the first third
    (["train.epochs=10"], 4),
    (["train.epochs=10", "train.warmup_epochs=5"], 6),     # a long warm-up pushes it later
    (["train.epochs=2"], 2),                               # the 1-epoch warm-up
    (["train.epochs=2", "train.lr_schedule=constant", "train.warmup_epochs=0"], 1),
])
def test_early_stopping_watches_only_after_the_warm_up_and_the_first_third(overrides, first):
    assert first_watched_epoch(build_config(overrides=overrides).train) == first


def replay(stopper: KeepBestEpoch, logs: list) -> list:
    """Drives the stopper through epochs with the given validation logs on a real model whose single
    weight is set to the epoch number (1-based), as fit() would; returns the epochs' weights."""
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False, input_shape=(1,))])
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, (accuracy, loss) in enumerate(logs):
        model.set_weights([np.full((1, 1), epoch + 1.0, dtype="float32")])
        stopper.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss, "loss": 1.0})
        if model.stop_training:
            break
    stopper.on_train_end()
    return int(model.get_weights()[0][0, 0])


def test_the_lowest_early_val_loss_is_never_kept_over_later_more_accurate_epochs():
    """The issue's batch-2 run: val_loss lowest at epoch 1 (0.28 accuracy), accuracy rising after it."""
    stopper = KeepBestEpoch(patience=6, first_epoch=4)
    logs = [(0.28, 1.14), (0.28, 1.3), (0.20, 1.5), (0.32, 1.6), (0.40, 1.4), (0.48, 1.3), (0.56, 1.2),
            (0.80, 1.25), (0.90, 1.2), (0.90, 1.16)]
    assert replay(stopper, logs) == 10 == stopper.best_epoch + 1  # 0.90 twice: the lower loss wins
    assert stopper.stopped_epoch == 0 and stopper.watched


def test_it_stops_after_patience_epochs_without_a_better_watched_epoch_and_restores_the_best():
    stopper = KeepBestEpoch(patience=2, first_epoch=2)
    logs = [(0.9, 0.1), (0.5, 0.9), (0.7, 0.6), (0.7, 0.7), (0.6, 0.65), (0.99, 0.01)]
    assert replay(stopper, logs) == 3  # epoch 1 is not watched; epochs 4 and 5 improve neither figure
    assert stopper.stopped_epoch + 1 == 5
    facts = stopping_facts(stopper)
    assert (facts["best_epoch"], facts["stopped_epoch"], facts["first_watched_epoch"]) == (3, 5, 2)


def test_a_falling_val_loss_keeps_training_on_an_accuracy_plateau_and_the_best_accuracy_is_still_kept():
    """mnist8k's runs: accuracy flat in mid-training while the cosine tail still lowers the loss."""
    stopper = KeepBestEpoch(patience=2, first_epoch=1)
    logs = [(0.95, 0.30), (0.97, 0.25), (0.97, 0.26), (0.96, 0.22), (0.97, 0.20), (0.96, 0.19),
            (0.98, 0.185), (0.98, 0.19), (0.97, 0.20)]
    # accuracy alone would stop at epoch 4 (epochs 3-4 no better than 2); the loss falls until epoch 7
    assert replay(stopper, logs) == 7
    assert stopper.stopped_epoch + 1 == 9
    report = training_report({"loss": [1.0] * 9, "val_accuracy": [a for a, _ in logs],
                              "val_loss": [l for _, l in logs]},
                             build_config(overrides=["train.early_stopping_patience=2"]).train, stopper)
    assert report["stopped_because"] == ("early stopping: neither a better val_accuracy (or equal with a lower "
                                         "val_loss) nor a lower val_loss for 2 epochs after epoch 7")


def test_a_lower_loss_resets_patience_but_never_decides_the_kept_epoch():
    stopper = KeepBestEpoch(patience=2, first_epoch=1)
    logs = [(0.90, 0.5), (0.80, 0.4), (0.85, 0.3), (0.70, 0.6), (0.70, 0.7)]
    assert replay(stopper, logs) == 1  # epochs 2-3 lower the loss, none beats epoch 1's accuracy
    assert stopper.stopped_epoch + 1 == 5


def test_a_training_that_ends_before_the_first_watched_epoch_keeps_its_last_epoch_and_says_so():
    cfg = build_config(overrides=["train.epochs=30"]).train
    stopper = early_stopping(cfg)
    assert replay(stopper, [(0.9, 0.1), (0.5, 0.2), (0.4, 0.3)]) == 3  # e.g. a step cap after 3 epochs
    report = training_report({"loss": [1.0] * 3, "val_accuracy": [0.9, 0.5, 0.4], "val_loss": [0.1, 0.2, 0.3]},
                             cfg, stopper)
    assert report["kept_epoch"] == 3
    assert report["kept_why"] == "the last epoch (training ended before early stopping watched from epoch 11)"
    assert stopping_facts(stopper)["best_epoch"] is None


@pytest.mark.parametrize("train_images, overrides, expected", [
    (233, [], 14),              # a 300-image batch: 16 steps per epoch instead of 8
    (483, [], 30),              # the full demo
    (6400, [], 32),             # thousands of images: train.batch_size as set
    (72, [], 8),                # never below 8 (BatchNorm)
    (72, ["train.batch_size=4"], 4),            # nor above what the user set
    (233, ["train.min_steps_per_epoch=0"], 32),  # off
])
def test_the_batch_shrinks_so_a_small_train_split_still_gets_min_steps_per_epoch(train_images, overrides, expected):
    from components.trainer.schedule import batch_size
    assert batch_size(build_config(overrides=overrides).train, train_images) == expected


@pytest.mark.parametrize("train_images, image_size, overrides, expected", [
    (6400, 32, [], 6400),                          # cached: the whole split
    (100_000, 128, [], 10_922),                    # not cached: what train.cache_max_mb=2048 holds at 128 px
    (6400, 32, ["train.shuffle_buffer=500"], 500),  # as the user set it
])
def test_the_shuffle_buffer_defaults_to_the_whole_train_split_memory_allowing(train_images, image_size, overrides,
                                                                             expected):
    from components.trainer.schedule import shuffle_buffer
    assert shuffle_buffer(build_config(overrides=overrides).train, train_images, image_size) == expected


def test_a_split_written_class_by_class_gives_batches_of_every_class_from_the_first_step():
    """ImageExampleGen writes a split class by class: a 1,000-example buffer over 5,000 sorted examples made
    the first batches of each epoch from one or two classes; the whole-split default mixes them all."""
    import tensorflow as tf

    from components.trainer.train import batches
    labels = np.repeat(np.arange(10), 500)  # sorted, as the TFRecords are
    ds = tf.data.Dataset.from_tensor_slices((np.zeros([5000, 8, 8, 3], np.float32), tf.one_hot(labels, 10))).cache()
    off = ["augment.brightness=0", "augment.contrast_lower=1", "augment.contrast_upper=1", "augment.rotation_degrees=0",
           "augment.zoom=0", "augment.shift=0"]

    def classes_in_first_batches(extra):
        cfg = build_config(overrides=off + extra)
        first = [np.argmax(y, axis=1) for _, y in batches(ds, cfg, training=True).take(4)]
        return len(set(np.concatenate(first)))

    assert classes_in_first_batches([]) == 10
    assert classes_in_first_batches(["train.shuffle_buffer=1000"]) <= 3


def test_the_trainers_batches_run_without_the_autotuning_model_and_still_deliver_every_image():
    """Deleting an iterator waits for tf.data's autotuning model thread (up to its optimisation period, which
    grows to a minute): the end of fit() sat idle 0-55 s (bench/bench_epoch_gaps.py). batches() turns the
    model off for the train and validation sets; the parallel map and prefetch still run."""
    import tensorflow as tf

    from components.trainer.train import batches
    cfg = build_config()
    ds = tf.data.Dataset.from_tensor_slices((np.ones([70, 8, 8, 3], np.float32), tf.one_hot(np.arange(70) % 5, 5)))
    for training in (True, False):
        out = batches(ds, cfg, training=training)
        assert out.options().autotune.enabled is False
        assert sum(int(x.shape[0]) for x, _ in out) == 70
        assert out.repeat().options().autotune.enabled is False  # what fit() gets
