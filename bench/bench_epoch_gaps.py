"""Benchmark: the time Keras spends between epochs, with a finite train data set and with a repeated one.

Both arms fit the default network (stride-1 stem: images of at most 32 px) on 6,400 random 28 px images
through the Trainer's own batches() (cache, whole-split shuffle, batched augmentation, prefetch), with a
validation set of 800, as the Trainer does. `finite` passes the data set as the Trainer did until
2026-12-06: Keras makes a new iterator for each epoch. `repeated` passes `.repeat()` and
steps_per_epoch, as the Trainer does now. Printed per arm: the seconds from one epoch's end to the next
epoch's begin (the gap), and the epochs' own seconds. Same process, arms alternate; prints figures, not a
test.

    python -m bench.bench_epoch_gaps --epochs 6 --rounds 2
"""
from __future__ import annotations

import argparse
import math
import time

from components.trainer.tf_runtime import skip_autograph_for_tf_keras  # imports components first: Keras 2

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from components.trainer.model import build_model  # noqa: E402
from components.trainer.train import batches  # noqa: E402
from schemas.config import build_config  # noqa: E402

IMAGES, SIZE, CLASSES = 6400, 28, 10


class Marks(keras.callbacks.Callback):
    """Epoch begin/end times: the gaps between epochs and the epochs' own lengths."""

    def __init__(self):
        super().__init__()
        self.begins, self.ends = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begins.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())

    def gaps(self):
        return [begin - end for end, begin in zip(self.ends, self.begins[1:])]

    def epochs(self):
        return [end - begin for begin, end in zip(self.begins, self.ends)]


def fit(repeated: bool, epochs: int, cfg, data, validation) -> Marks:
    train = batches(tf.data.Dataset.from_tensor_slices(data).cache(), cfg, training=True)
    steps = math.ceil(IMAGES / cfg.train.batch_size)
    model = build_model(cfg.model, SIZE, CLASSES, train_images=IMAGES)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    marks = Marks()
    if repeated:
        model.fit(train.repeat(), steps_per_epoch=steps, validation_data=validation, epochs=epochs,
                  callbacks=[marks], verbose=0)
    else:
        model.fit(train, validation_data=validation, epochs=epochs, callbacks=[marks], verbose=0)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="each arm runs this many times, alternating")
    args = parser.parse_args()
    skip_autograph_for_tf_keras()
    cfg = build_config()
    rng = np.random.default_rng(0)
    data = (rng.random((IMAGES, SIZE, SIZE, 3), dtype=np.float32), tf.one_hot(rng.integers(0, CLASSES, IMAGES), CLASSES))
    validation = tf.data.Dataset.from_tensor_slices((data[0][:800], data[1][:800])).batch(cfg.train.batch_size)
    totals = {"finite": [], "repeated": []}
    print(f"{IMAGES:,} images of {SIZE} px, {args.epochs} epochs per fit, default network and batches()")
    print("| arm | round | gaps between epochs (s) | sum of gaps | epochs' own time |")
    print("| --- | --- | --- | --- | --- |")
    for round_ in range(1, args.rounds + 1):
        for arm in totals:
            marks = fit(arm == "repeated", args.epochs, cfg, data, validation)
            gaps = marks.gaps()
            totals[arm].append((sum(gaps), sum(marks.epochs())))
            print(f"| {arm} | {round_} | {', '.join(f'{g:.2f}' for g in gaps)} | {sum(gaps):.2f} s | "
                  f"{sum(marks.epochs()):.1f} s |", flush=True)
    for arm, runs in totals.items():
        gaps, own = sum(g for g, _ in runs), sum(e for _, e in runs)
        print(f"{arm}: gaps {gaps:.2f} s over {len(runs) * (args.epochs - 1)} epoch boundaries "
              f"({gaps / (gaps + own):.1%} of the fit)")


if __name__ == "__main__":
    main()
