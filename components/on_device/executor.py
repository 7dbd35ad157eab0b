"""OnDeviceModel's work, in plain Python on paths: build, judge, stage and push the TFLite models.

Pushed only beside a SavedModel the Pusher pushed, with the same version number, into
`<serving_dir>/<model_name>-tflite/<version>/` through the Pusher's atomic publish (the folder appears
whole or not at all, with its sha256 manifest in `assets.extra/`), and only when every variant agrees
with the SavedModel on at least serving.tflite_min_agreement of the test (+ golden) images. A blocked
TFLite push never blocks the server push: that one happened before this step.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

import numpy as np
from absl import logging

from components.fs import write_json
from components.image_example_gen.spec import LABELS_FILE
from components.on_device.convert import convert_all, load_network, preprocessing_facts
from components.on_device.evaluate import (judge, read_split, read_spread, saved_model_classes, transformed_images,
                                           verdict)
from components.on_device.report import report_path
from components.on_device.spec import (MODEL_FILES, PREPROCESSING_FILE, REPRESENTATIVE_IMAGES, OnDeviceSettings,
                                       tflite_model_dir)
from components.pusher.publish import prune, publish
from schemas import features

STAGED_DIR = "tflite"  # in the artifact: the folder as it is pushed


def build_and_judge(saved_model_dir: str, tft_output, train_pattern: str, judged_patterns: List[str],
                    variants, out_dir: str) -> Dict:
    """Convert, judge against the SavedModel, and stage the folder in `out_dir`/tflite; the report."""
    image_size = int(tft_output.transformed_feature_spec()[features.IMAGE_XF_KEY].shape[0])
    train_images = transformed_images(tft_output, read_spread(train_pattern, REPRESENTATIVE_IMAGES))
    network = load_network(saved_model_dir)
    models = convert_all(network, image_size, variants, train_images)
    splits = [read_split(pattern) for pattern in judged_patterns]
    encoded = [image for images, _ in splits for image in images]
    labels = np.concatenate([split_labels for _, split_labels in splits])
    report = judge(models, transformed_images(tft_output, encoded), labels,
                   saved_model_classes(network, encoded))
    report["image_size"] = image_size
    stage(f"{out_dir.rstrip('/')}/{STAGED_DIR}", models, f"{saved_model_dir.rstrip('/')}/assets/{LABELS_FILE}",
          image_size)
    return report


def not_built_report(already_served: str = "") -> Dict:
    """The report when the Pusher pushed nothing: no TFLite model is built for it."""
    return {"variants": {}, "images": 0, "server_accuracy": None, "already_served": already_served or ""}


def failed_report(error: Exception) -> Dict:
    """The report of a conversion or judging that raised: nothing to push, the error as the reason."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    return {**not_built_report(), "error": f"not converted: {type(error).__name__}: {line}"}


def stage(folder: str, models: Dict[str, bytes], labels_file: str, image_size: int) -> str:
    """The folder as a device gets it: the models, labels.txt (the SavedModel's own) and preprocessing.json."""
    import tensorflow as tf
    tf.io.gfile.makedirs(folder)
    for variant, flatbuffer in models.items():
        with tf.io.gfile.GFile(f"{folder}/{MODEL_FILES[variant]}", "wb") as f:
            f.write(flatbuffer)
    tf.io.gfile.copy(labels_file, f"{folder}/{LABELS_FILE}", overwrite=True)
    write_json(f"{folder}/{PREPROCESSING_FILE}", preprocessing_facts(image_size))
    return folder


def push_if_allowed(report: Dict, out_dir: str, settings: OnDeviceSettings, serving_model_dir: str,
                    pushed_version: Optional[str]) -> Dict:
    """Push the staged folder beside the pushed SavedModel version, or record why not; the report, completed."""
    if not pushed_version:
        served = report.get("already_served")
        reason = f"the SavedModel was not pushed ({served} is served already)" if served else (
            "the SavedModel was not pushed")
    else:
        reason = report.get("error") or verdict(report, settings.min_agreement)
    destination = ""
    if not reason:
        model_dir = tflite_model_dir(serving_model_dir)
        destination = publish(f"{out_dir.rstrip('/')}/{STAGED_DIR}", model_dir, int(pushed_version),
                              settings.signing_key, last=PREPROCESSING_FILE)
        pruned = prune(model_dir, settings.keep_versions, last=PREPROCESSING_FILE)
        logging.info("Published %s; pruned TFLite versions %s", destination, pruned or "none")
    report.update(pushed=not reason, reason=reason, destination=destination, min_agreement=settings.min_agreement)
    write_json(report_path(out_dir), report)
    logging.info("OnDeviceModel: %s", json.dumps(report))
    return report


def split_pattern(examples_uri: str, split: str) -> str:
    return os.path.join(examples_uri, f"Split-{split}", "*")
