"""Benchmark: the Trainer's augmentation on whole batches against the same transforms image by image.

Both streams are what an epoch of the Trainer feeds after its in-memory cache: 6,400 cached float
images, shuffled, batched by 32 and augmented with the default `augment.*` settings, then prefetched.
`per image` maps augment_image over single images before batching (how the Trainer did it until
2026-12-06); `batched` maps augment_batch over each batch after batching (how it does now). Both take
their random draws per image. Images/s over two passes, both arms in this process, alternating, so
a noisy machine moves both alike. Prints figures; not a test.

    python -m bench.bench_augment --sizes 32,64
"""
from __future__ import annotations

import argparse
import time

from components.trainer.augment import augment_batch, augment_image  # imports components first: Keras 2

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from schemas.config import build_config  # noqa: E402

IMAGES, BATCH = 6400, 32


def stream(images: np.ndarray, labels: tf.Tensor, batched: bool) -> tf.data.Dataset:
    augment = build_config().augment
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).cache().shuffle(IMAGES, seed=1)
    if batched:
        ds = ds.batch(BATCH).map(lambda x, y: (augment_batch(x, augment), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: (augment_image(x, augment), y), num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH)
    return ds.prefetch(tf.data.AUTOTUNE)


def images_per_second(ds: tf.data.Dataset, passes: int = 2) -> float:
    for _ in ds.take(5):  # the cache filled and the functions traced before timing
        pass
    start = time.perf_counter()
    for _ in range(passes):
        for _ in ds:
            pass
    return passes * IMAGES / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="32,64")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per size; the best of each arm")
    args = parser.parse_args()
    print("| size | per image | batched | ratio |")
    print("| --- | --- | --- | --- |")
    for size in (int(s) for s in args.sizes.split(",")):
        rng = np.random.default_rng(0)
        images = rng.random((IMAGES, size, size, 3), dtype=np.float32)
        labels = tf.one_hot(rng.integers(0, 10, IMAGES), 10)
        best = {False: 0.0, True: 0.0}
        for _ in range(args.rounds):
            for batched in (False, True):
                best[batched] = max(best[batched], images_per_second(stream(images, labels, batched)))
        print(f"| {size} px | {best[False]:,.0f} images/s | {best[True]:,.0f} images/s "
              f"| {best[True] / best[False]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
