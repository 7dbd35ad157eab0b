"""The seed's input pipeline, rewritten here as the yardstick for ours (not used by the pipeline).

The seed article (/work/shared/seed-tensorflow-cnn-advice.md, "Efficient Data Pipeline using
tf.data" and "Data Augmentation") reads JPEG files by path: shuffle(1000) -> parallel map(read +
decode_jpeg + resize + convert_image_dtype) -> parallel map(flip, brightness, contrast) -> batch(32)
-> prefetch. Its behaviour is kept on purpose, including `convert_image_dtype` after `resize`,
which leaves pixels in 0..255 (resize already returns float32): the yardstick is what it does.
"""
from __future__ import annotations

from typing import List

import tensorflow as tf


def load_image(image_path: tf.Tensor, image_size: int) -> tf.Tensor:
    image = tf.io.read_file(image_path)
    image = tf.io.decode_jpeg(image, channels=3)
    image = tf.image.resize(image, (image_size, image_size))
    return tf.image.convert_image_dtype(image, tf.float32)


def augment_image(image: tf.Tensor) -> tf.Tensor:
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_brightness(image, max_delta=0.2)
    return tf.image.random_contrast(image, lower=0.8, upper=1.2)


def seed_dataset(image_paths: List[str], labels: List[int], image_size: int, batch_size: int = 32) -> tf.data.Dataset:
    """The seed's `create_augmented_dataset`, at `image_size`."""
    dataset = tf.data.Dataset.from_tensor_slices((image_paths, labels))
    dataset = dataset.shuffle(buffer_size=1000)
    dataset = dataset.map(lambda path, label: (load_image(path, image_size), label),
                          num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda image, label: (augment_image(image), label), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    return dataset.prefetch(buffer_size=tf.data.AUTOTUNE)


def decode_limit_dataset(encoded: List[bytes], batch_size: int = 64) -> tf.data.Dataset:
    """TF's JPEG decoder alone on the same bytes already in memory, on all cores: the physical limit
    every decode-per-image pipeline sits under. The images must share one size (they are batched)."""
    dataset = tf.data.Dataset.from_tensor_slices(encoded)
    dataset = dataset.map(lambda e: tf.io.decode_jpeg(e, channels=3), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
