"""Benchmark the model presets on this machine's CPU. Prints figures; it is not a test.

Two parts:
  throughput  training images/second of `seed` and `default`, side by side in one process at one
              input size. Both models are warmed up (graph tracing, first epoch) and then trained
              in alternating rounds, so load from anything else on the machine hits both alike.
  digits      accuracy of a preset on scikit-learn's 1797 real 8x8 handwritten digits, upscaled
              to the input size, stratified 80/20 split, Adam + early stopping on the eval loss
              (as the pipeline's Trainer does), with a hard wall-clock cap.

    python -m bench.bench_presets                                   # both parts
    python -m bench.bench_presets --part throughput --image-size 64
    python -m bench.bench_presets --part digits --digits-sizes 32,64 --max-epochs 60
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from components.trainer.model import build_model  # imports components first: Keras 2 before TensorFlow
from components.trainer.augment import training_model
from components.trainer.tf_runtime import skip_autograph_for_tf_keras
from schemas.config import AugmentConfig, ModelConfig, TrainConfig, from_dict

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

TRAIN = TrainConfig()  # batch size, learning rate, patience and seed come from the pipeline's defaults


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "throughput", "digits"], default="all")
    parser.add_argument("--image-size", type=int, default=64, help="input size for the throughput part")
    parser.add_argument("--presets", default="seed,default", help="presets compared for throughput")
    parser.add_argument("--rounds", type=int, default=8, help="timed rounds per preset after warm-up")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round (the first is not timed)")
    parser.add_argument("--digits-preset", default="default")
    parser.add_argument("--digits-sizes", default="32,64", help="comma-separated input sizes")
    parser.add_argument("--max-epochs", type=int, default=60, help="early stopping usually ends sooner")
    parser.add_argument("--patience", type=int, default=TRAIN.early_stopping_patience)
    parser.add_argument("--time-cap-min", type=float, default=10.0, help="hard cap on training wall-clock")
    parser.add_argument("--batch-size", type=int, default=TRAIN.batch_size)
    parser.add_argument("--learning-rate", type=float, default=TRAIN.learning_rate)
    parser.add_argument("--seed", type=int, default=TRAIN.seed)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="model key override for the digits preset, e.g. --set dropout=0.1")
    return parser.parse_args()


def model_config(preset: str, overrides: List[str] = ()) -> ModelConfig:
    keys = dict(item.split("=", 1) for item in overrides)
    return from_dict({"model": {"preset": preset, **keys}}).model


def compiled_model(cfg: ModelConfig, image_size: int, num_classes: int, learning_rate: float,
                   augment: Optional[AugmentConfig] = None, steps_per_execution: int = 1) -> keras.Model:
    """The preset's network, compiled; with `augment`, behind the Trainer's training-step augmentation
    (augment.training_model), as the Trainer fits it; `steps_per_execution` batches per call."""
    model = build_model(cfg, image_size, num_classes)
    if augment is not None:
        model = training_model(model, augment)
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


# --------------------------------------------------------------------------- throughput

class StepTimer(keras.callbacks.Callback):
    """Times the training steps after a fit()'s first call into the training step.

    Each fit() call also pays ~0.7 s of set-up here (data handler, iterator, shuffle buffer) that
    does not depend on the model; counting it would understate the faster model's throughput.
    With several batches per call (steps_per_execution), Keras calls on_train_batch_end once per call
    with the index of its last batch, so the batches timed are counted from those indices.
    """

    def on_train_begin(self, logs=None):
        self.first = self.last = None
        self.first_batch = self.last_batch = 0

    def on_train_batch_end(self, batch, logs=None):
        self.last, self.last_batch = time.perf_counter(), batch
        if self.first is None:
            self.first, self.first_batch = self.last, batch

    @property
    def seconds(self) -> float:
        return self.last - self.first

    @property
    def batches(self) -> int:
        """Batches trained between the first call's end and the last's."""
        return self.last_batch - self.first_batch


def measure_throughput(presets: List[str], size: int, batch: int, steps: int, rounds: int,
                       learning_rate: float, seed: int, augment: Optional[AugmentConfig] = None,
                       steps_per_execution: int = 1) -> Tuple[Dict[str, List[float]], Dict[str, keras.Model]]:
    """Training images/s per preset and round. Each round trains every preset for the same steps back
    to back, so the per-round default/seed ratio compares the two under the same machine load.
    With `augment`, each step also runs the Trainer's augmentation (compiled_model); with
    `steps_per_execution` k, k batches per call (`steps` must be a multiple of k, at least 2k)."""
    if steps % steps_per_execution or steps < 2 * steps_per_execution:
        raise ValueError(f"steps={steps} must be a multiple of steps_per_execution={steps_per_execution}, "
                         "at least twice it (the first call is not timed)")
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (batch * steps, size, size, 3)).astype("float32")
    labels = rng.integers(0, 10, len(images))
    data = (tf.data.Dataset.from_tensor_slices((images, labels)).cache().repeat()
            .shuffle(len(images), seed=seed).batch(batch).prefetch(tf.data.AUTOTUNE))
    models = {p: compiled_model(model_config(p), size, 10, learning_rate, augment, steps_per_execution)
              for p in presets}
    rates: Dict[str, List[float]] = {p: [] for p in presets}
    for preset, model in models.items():  # warm-up: tracing and the first epoch are not measured
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    timer = StepTimer()
    for _ in range(rounds):
        for preset, model in models.items():
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
            rates[preset].append(timer.batches * batch / timer.seconds)
    return rates, models


def trainer_throughput(presets: List[str], size: int, rounds: int, augment: Optional[AugmentConfig] = None
                       ) -> Dict[str, List[float]]:
    """measure_throughput as the Trainer trains: the pipeline's default batch size, learning rate and seed,
    train.steps_per_execution batches per call, two calls per round (the first not timed)."""
    per_call = TRAIN.steps_per_execution
    rates, _ = measure_throughput(presets, size, TRAIN.batch_size, steps=2 * per_call, rounds=rounds,
                                  learning_rate=TRAIN.learning_rate, seed=TRAIN.seed, augment=augment,
                                  steps_per_execution=per_call)
    return rates


def throughput(args: argparse.Namespace) -> None:
    size, batch = args.image_size, args.batch_size
    rates, models = measure_throughput(args.presets.split(","), size, batch, args.steps, args.rounds,
                                       args.learning_rate, args.seed)
    print(f"\n== training throughput, {size}x{size} input, batch {batch}, "
          f"{args.rounds} rounds x {args.steps - 1} timed steps after warm-up")
    for preset, model in models.items():
        print(f"  {preset:>8}: {statistics.median(rates[preset]):8.1f} images/s median, "
              f"{max(rates[preset]):8.1f} best (rounds: {', '.join(f'{r:.0f}' for r in rates[preset])})"
              f"  params {model.count_params():,}")
    if "seed" in rates and "default" in rates:
        paired = [d / s for d, s in zip(rates["default"], rates["seed"])]
        print(f"  default/seed throughput ratio: {statistics.median(paired):.2f}x median of per-round ratios "
              f"({', '.join(f'{r:.2f}' for r in paired)}); best/best {max(rates['default']) / max(rates['seed']):.2f}x")


# --------------------------------------------------------------------------- digits

def digits_split(image_size: int, seed: int) -> Tuple[np.ndarray, ...]:
    """sklearn's digits as float RGB images in [0, 1], stratified 80/20 train/eval."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    grey = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    images = tf.image.resize(grey, (image_size, image_size)).numpy().clip(0, 1)
    rgb = np.repeat(images, 3, axis=-1)
    return train_test_split(rgb, digits.target, test_size=0.2, stratify=digits.target, random_state=seed)


class TimeCap(keras.callbacks.Callback):
    """Stops training once `seconds` of wall-clock have passed, checked after every batch."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.hit = seconds, False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training, self.hit = True, True


def digits_accuracy(args: argparse.Namespace, image_size: int) -> None:
    keras.utils.set_random_seed(args.seed)
    x_train, x_eval, y_train, y_eval = digits_split(image_size, args.seed)
    train = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).cache()
             .shuffle(len(x_train), seed=args.seed).batch(args.batch_size).prefetch(tf.data.AUTOTUNE))
    evaluation = tf.data.Dataset.from_tensor_slices((x_eval, y_eval)).batch(256).prefetch(tf.data.AUTOTUNE)
    cfg = model_config(args.digits_preset, args.set)
    model = compiled_model(cfg, image_size, 10, args.learning_rate)
    cap = TimeCap(args.time_cap_min * 60)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=args.patience, restore_best_weights=True)

    start = time.perf_counter()
    history = model.fit(train, validation_data=evaluation, epochs=args.max_epochs, callbacks=[stop, cap], verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(evaluation, verbose=0)

    epochs = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"])) + 1
    why = "time cap" if cap.hit else ("early stopping" if stop.stopped_epoch else "max epochs")
    label = args.digits_preset + "".join(f" {s}" for s in args.set)
    print(f"\n== digits, preset {label}, {image_size}x{image_size}: "
          f"{len(x_train)} train / {len(x_eval)} eval images")
    print(f"  eval accuracy {accuracy:.4f} (best epoch {best} of {epochs}, stopped by {why})")
    print("  per epoch (train acc / eval acc / eval loss): " + "; ".join(
        f"{a:.3f}/{va:.3f}/{vl:.3f}" for a, va, vl in zip(
            history.history["accuracy"], history.history["val_accuracy"], history.history["val_loss"])))
    print(f"  training wall-clock {seconds:.1f} s ({seconds / epochs:.1f} s/epoch incl. eval), "
          f"cap {args.time_cap_min:g} min, params {model.count_params():,}")


def main() -> None:
    args = parse_args()
    skip_autograph_for_tf_keras()  # as the Trainer does
    print(f"CPU cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    if args.part in ("all", "throughput"):
        throughput(args)
    if args.part in ("all", "digits"):
        for size in (int(s) for s in args.digits_sizes.split(",")):
            digits_accuracy(args, size)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
