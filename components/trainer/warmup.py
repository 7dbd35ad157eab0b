"""TF Serving warmup requests, and what the trained model answered to them.

`assets.extra/tf_serving_warmup_requests` is a TFRecord of
`tensorflow.serving.PredictionLog`; TF Serving replays it when it loads a
version, before the version takes traffic, so the first user request does not
pay for graph initialisation. We write one single-image PredictRequest per
image and signature, from real eval images: `serving_default` gets the
serialized tf.Example, `serving_bytes` the encoded image.

`assets.extra/expected_predictions.json` holds the probabilities the trained
Keras model gave those images through the training input path (raw features ->
Transform layer -> model), in the order of the warmup records. The infra check
compares the served signatures against it: training/serving skew shows up there.
TF Serving reads only the warmup file from assets.extra and ignores the rest.
"""
from __future__ import annotations

import json
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from schemas import features

ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
EXPECTED_FILE = "expected_predictions.json"


def read_eval_examples(file_patterns: List[str], count: int) -> List[bytes]:
    """The first `count` serialized tf.Examples of the (GZIP TFRecord) validation split (fn_args.eval_files): never the test split."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
    return [record.numpy() for record in dataset]


def image_bytes_of(serialized: bytes) -> bytes:
    return tf.train.Example.FromString(serialized).features.feature[features.IMAGE_KEY].bytes_list.value[0]


def warmup_logs(examples: List[bytes], model_name: str) -> List[prediction_log_pb2.PredictionLog]:
    """Per image: a serving_default request (the tf.Example), then a serving_bytes one (its image)."""
    logs = []
    for serialized in examples:
        for signature, name, value in (
                (features.EXAMPLES_SIGNATURE, features.EXAMPLES_INPUT, serialized),
                (features.BYTES_SIGNATURE, features.BYTES_INPUT, image_bytes_of(serialized))):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
            request.inputs[name].CopyFrom(tf.make_tensor_proto([value], dtype=tf.string))
            logs.append(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(model_dir: str, examples: List[bytes], model_name: str, expected: np.ndarray) -> str:
    """Write the warmup file and the expected probabilities (one row per image) into the SavedModel."""
    extra = f"{model_dir.rstrip('/')}/{ASSETS_EXTRA}"
    tf.io.gfile.makedirs(extra)
    path = f"{extra}/{WARMUP_FILE}"
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_logs(examples, model_name):
            writer.write(log.SerializeToString())
    with tf.io.gfile.GFile(f"{extra}/{EXPECTED_FILE}", "w") as f:
        json.dump({features.PROBABILITIES_OUTPUT: np.asarray(expected).tolist()}, f)
    return path


def read_warmup(model_dir: str) -> List[Tuple[str, Dict[str, np.ndarray]]]:
    """The warmup requests as (signature name, {input name: array}), in file order."""
    path = f"{model_dir.rstrip('/')}/{ASSETS_EXTRA}/{WARMUP_FILE}"
    requests = []
    for record in tf.data.TFRecordDataset([path]):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        requests.append((request.model_spec.signature_name,
                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return requests


def read_expected(model_dir: str) -> np.ndarray:
    with tf.io.gfile.GFile(f"{model_dir.rstrip('/')}/{ASSETS_EXTRA}/{EXPECTED_FILE}") as f:
        return np.asarray(json.load(f)[features.PROBABILITIES_OUTPUT], dtype=np.float32)


def trained_model_probabilities(model, transform_layer, raw_feature_spec, examples: List[bytes]) -> np.ndarray:
    """What the trained model answers through the training input path (not a serving signature)."""
    parsed = tf.io.parse_example(tf.constant(examples), raw_feature_spec)
    transformed = transform_layer(parsed)
    return model(transformed[features.IMAGE_XF_KEY], training=False).numpy()
