"""Judging the TFLite models on the images the Evaluator judged the SavedModel on (test, + golden).

For each variant: its accuracy, and its agreement with the SavedModel (the share of images where
both answer the same class), the SavedModel run through its own `serving_bytes` signature on the
same encoded images. The TFLite models get those images through the Transform graph, i.e. exactly
what the device is told to do (preprocessing.json). `verdict` is the push rule:
every variant built must agree on at least serving.tflite_min_agreement of the images.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from components.image_example_gen.records import count_records, split_records
from components.on_device.spec import MODEL_FILES
from schemas import features

BATCH = 64


def read_split(file_pattern: str) -> Tuple[List[bytes], np.ndarray]:
    """(encoded images, labels) of a (GZIP TFRecord) Examples split."""
    images, labels = [], []
    for record in split_records([file_pattern]):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        images.append(feature[features.IMAGE_KEY].bytes_list.value[0])
        labels.append(feature[features.LABEL_KEY].int64_list.value[0])
    return images, np.asarray(labels, np.int64)


def read_spread(file_pattern: str, count: int) -> List[bytes]:
    """About `count` encoded images spread over a split: every k-th record, parsing only those. The image
    ExampleGen writes a split class by class, so its first images are all of one class."""
    every = max(1, count_records([file_pattern]) // max(1, count))
    return [tf.train.Example.FromString(record.numpy()).features.feature[features.IMAGE_KEY].bytes_list.value[0]
            for record in split_records([file_pattern]).shard(every, 0).take(count)]


def transformed_images(tft_output, images: List[bytes]) -> np.ndarray:
    """The Transform graph's float images [N, size, size, 3] for encoded `images`."""
    layer = tft_output.transform_features_layer()
    shape = [-1] + list(tft_output.raw_feature_spec()[features.IMAGE_KEY].shape)  # [N] or [N, 1], as the schema says
    out = [layer({features.IMAGE_KEY: tf.reshape(tf.constant(images[i:i + BATCH]), shape)})[features.IMAGE_XF_KEY]
           .numpy() for i in range(0, len(images), BATCH)]
    return np.concatenate(out) if out else np.zeros((0, 1, 1, 3), np.float32)


def saved_model_classes(saved_model, images: List[bytes]) -> np.ndarray:
    """The SavedModel's class ids through `serving_bytes`, as TF Serving would answer; `saved_model` is the
    loaded model (a Keras load keeps the signatures it was saved with)."""
    serve = saved_model.signatures[features.BYTES_SIGNATURE]
    ids = [serve(**{features.BYTES_INPUT: tf.constant(images[i:i + BATCH])})[features.CLASS_ID_OUTPUT].numpy()
           for i in range(0, len(images), BATCH)]
    return np.concatenate(ids) if ids else np.zeros((0,), np.int64)


def tflite_probabilities(flatbuffer: bytes, images: np.ndarray) -> np.ndarray:
    """Probabilities [N, C] of a TFLite model on float images [N, size, size, 3], one image per call."""
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for image in images:
        interpreter.set_tensor(source["index"], image[None].astype(source["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(target["index"])[0].astype(np.float32))
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def judge(models: Dict[str, bytes], images: np.ndarray, labels: np.ndarray, server: np.ndarray) -> Dict:
    """Per variant: file, size, accuracy and agreement with the SavedModel's classes `server`."""
    results = {}
    for variant, flatbuffer in models.items():
        answers = tflite_probabilities(flatbuffer, images).argmax(axis=-1)
        results[variant] = {"file": MODEL_FILES[variant], "bytes": len(flatbuffer),
                            "accuracy": _share(answers == labels), "agreement": _share(answers == server)}
    return {"variants": results, "images": int(len(labels)), "server_accuracy": _share(server == labels)}


def verdict(report: Dict, min_agreement: float) -> str:
    """Why the TFLite models may not be pushed, or "" when every variant agrees often enough."""
    if not report["images"]:
        return "no test (or golden) images to judge the TFLite models on"
    low = [f"{v} agrees with the SavedModel on {r['agreement']:.3f} of {report['images']} images"
           for v, r in report["variants"].items() if r["agreement"] < min_agreement]
    return "; ".join(low) + f" (< serving.tflite_min_agreement {min_agreement})" if low else ""


def _share(hits: np.ndarray) -> float:
    return float(np.mean(hits)) if len(hits) else 0.0
