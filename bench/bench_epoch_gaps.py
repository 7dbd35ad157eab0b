"""Benchmark: the time Keras spends outside epochs: between them, and from the last one's end to fit()'s return.

Every arm fits the default network (stride-1 stem: images of at most 32 px) on 6,400 random 28 px images
through the Trainer's own batches() (cache, whole-split shuffle, batched augmentation, prefetch), with a
validation set of 800 through batches() too, as the Trainer does. The arms, in the Trainer's history:

  finite           the data set as is, tf.data's autotuning model on: Keras makes a new train iterator
                   each epoch (the Trainer until 3942f00)
  repeated         .repeat() and steps_per_epoch, the autotuning model on (3942f00 to 2026-12-06)
  repeated-static  .repeat(), and batches() as it is now: the autotuning model off (train.without_autotune_model)

Deleting a tf.data iterator waits for its autotuning model thread, whose optimisation period grows to a
minute: the repeated iterator pays it once, at the end of fit(); a new iterator per epoch, we infer, paid it
at each epoch boundary. Printed per arm and round: the gaps between epochs, the tail (last epoch's end to fit()'s
return) and the epochs' own seconds. Same process, arms alternate; prints figures, not a test.

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
from components.trainer.augment import training_model  # noqa: E402
from schemas.config import build_config  # noqa: E402

IMAGES, SIZE, CLASSES = 6400, 28, 10


class Marks(keras.callbacks.Callback):
    """Epoch begin/end times: the gaps between epochs and the epochs' own lengths."""

    def __init__(self):
        super().__init__()
        self.begins, self.ends, self.returned = [], [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.begins.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())

    def gaps(self):
        return [begin - end for end, begin in zip(self.ends, self.begins[1:])]

    def epochs(self):
        return [end - begin for begin, end in zip(self.begins, self.ends)]

    def tail(self):
        return self.returned - self.ends[-1]


ARMS = ("finite", "repeated", "repeated-static")


def fit(arm: str, epochs: int, cfg, data, validation_data) -> Marks:
    train = batches(tf.data.Dataset.from_tensor_slices(data).cache(), cfg, training=True)
    validation = batches(tf.data.Dataset.from_tensor_slices(validation_data), cfg, training=False)
    if arm != "repeated-static":  # the autotuning model back on, as before 2026-12-06
        tuned = tf.data.Options()
        tuned.autotune.enabled = True
        train, validation = train.with_options(tuned), validation.with_options(tuned)
    steps = math.ceil(IMAGES / cfg.train.batch_size)
    model = training_model(build_model(cfg.model, SIZE, CLASSES, train_images=IMAGES), cfg.augment)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    marks = Marks()
    if arm == "finite":
        model.fit(train, validation_data=validation, epochs=epochs, callbacks=[marks], verbose=0)
    else:
        model.fit(train.repeat(), steps_per_epoch=steps, validation_data=validation, epochs=epochs,
                  callbacks=[marks], verbose=0)
    marks.returned = time.perf_counter()
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
    validation = (data[0][:800], data[1][:800])
    totals = {arm: [] for arm in ARMS}
    print(f"{IMAGES:,} images of {SIZE} px, {args.epochs} epochs per fit, default network and batches()")
    print("| arm | round | gaps between epochs (s) | sum of gaps | tail after the last epoch | epochs' own time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for round_ in range(1, args.rounds + 1):
        for arm in ARMS:
            marks = fit(arm, args.epochs, cfg, data, validation)
            gaps = marks.gaps()
            totals[arm].append((sum(gaps), marks.tail(), sum(marks.epochs())))
            print(f"| {arm} | {round_} | {', '.join(f'{g:.2f}' for g in gaps)} | {sum(gaps):.2f} s | "
                  f"{marks.tail():.2f} s | {sum(marks.epochs()):.1f} s |", flush=True)
    for arm, runs in totals.items():
        gaps, tails, own = (sum(r[i] for r in runs) for i in range(3))
        print(f"{arm}: gaps {gaps:.2f} s over {len(runs) * (args.epochs - 1)} epoch boundaries, tails {tails:.2f} s "
              f"over {len(runs)} fits ({(gaps + tails) / (gaps + tails + own):.1%} of the fit)")


if __name__ == "__main__":
    main()
