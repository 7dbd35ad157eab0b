"""The Transform graph without a pipeline, for benchmarks and tests that need the real serving graph
(the Trainer's export wraps it) but not a pipeline run."""
from __future__ import annotations

import os
from typing import Sequence

import tensorflow as tf

from schemas import features


def write_transform_graph(out: str, size: int, encoded_images: Sequence[bytes]):
    """preprocessing_fn at `size` px through real tf.Transform over `encoded_images`, written to `out` as
    the Transform component writes it; its TFTransformOutput."""
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from components.transform.preprocessing import IMAGE_SIZE_KEY, preprocessing_fn

    raw = [{features.IMAGE_KEY: image, features.LABEL_KEY: i % 2} for i, image in enumerate(encoded_images)]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}))
    with tft_beam.Context(temp_dir=os.path.join(out, "tmp"), force_tf_compat_v1=False):
        transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, {IMAGE_SIZE_KEY: size}))
        _ = transform_fn | tft_beam.WriteTransformFn(out)
    metadata_io.write_metadata(metadata, os.path.join(out, tft.TFTransformOutput.RAW_METADATA_DIR))
    return tft.TFTransformOutput(out)
