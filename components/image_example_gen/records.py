"""The split TFRecords the image ExampleGen writes (gzip, one tf.Example per image; record_writer.py): their readers."""
from __future__ import annotations

from typing import List

import tensorflow as tf


def split_records(file_patterns: List[str]) -> tf.data.Dataset:
    """The serialized tf.Examples of the files matching `file_patterns`, in file-name order."""
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    return tf.data.TFRecordDataset(files, compression_type="GZIP")


def count_records(file_patterns: List[str]) -> int:
    """Examples in the files matching `file_patterns`: sizes the Trainer's schedule, spaces a calibration sample."""
    return int(split_records(file_patterns).reduce(0, lambda n, _: n + 1))
