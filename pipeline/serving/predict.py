"""`imgpipe predict`: what TF Serving would answer, without TF Serving.

Loads a pushed SavedModel and sends each image's encoded bytes through the
`serving_bytes` signature, the one TF Serving's REST API exposes for raw
images, so the classes printed here are the classes a client would get.
Files are checked from their header first (cheap), then sent in batches; a
batch that fails is retried one image at a time so one bad file costs only its
own line. The signature's serving guard (components/trainer/serving_guard.py)
applies here as at TF Serving: an image it refuses gets the guard's reason.
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

from components.image_example_gen.folder import IMAGE_EXTENSIONS, BadImageError, probe_image
from components.image_example_gen.spec import LABELS_FILE
from components.on_device.spec import PREPROCESSING_FILE
from components.pusher.publish import SAVED_MODEL_FILE, read_model_facts, served_versions
from components.trainer.spec import batch_limit
from schemas import features

BATCH_SIZE = 64


class PredictInputError(ValueError):
    """No model or no image to predict on; the message says where we looked."""


@dataclass
class Prediction:
    path: str
    top: List[Tuple[str, float]] = field(default_factory=list)  # (class name, probability), best first
    error: Optional[str] = None

    def to_dict(self) -> dict:
        best = self.top[0] if self.top else (None, None)
        return {"path": self.path, "class_name": best[0], "probability": best[1],
                "top_k": [{"class_name": n, "probability": p} for n, p in self.top], "error": self.error}


def resolve_model(path: str) -> str:
    """A SavedModel folder, a .tflite file or a TFLite folder as given, or the newest numeric version under
    a TF Serving model folder (or a `<model name>-tflite` one)."""
    if any(os.path.isfile(os.path.join(path, name)) for name in (SAVED_MODEL_FILE, PREPROCESSING_FILE)) or (
            path.endswith(".tflite")):
        return path
    versions = served_versions(path)
    if not versions:
        raise PredictInputError(f"no SavedModel at {path} and no pushed version under it; give --model a "
                                "SavedModel folder or <serving dir>/<model name> (e.g. output/serving/image_classifier)")
    return os.path.join(path, str(versions[-1]))


def expand_inputs(items: Iterable[str]) -> List[str]:
    """FILE, FOLDER (image files inside, recursively) or GLOB, in the order given, each path once."""
    paths: List[str] = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(os.path.join(d, n) for d, _, names in os.walk(item) for n in names
                           if n.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise PredictInputError(f"no image files ({' '.join(IMAGE_EXTENSIONS)}) in folder {item}")
        elif os.path.exists(item) or not glob.has_magic(item):
            found = [item]  # a missing plain path gets its own error line
        else:
            found = sorted(glob.glob(item, recursive=True))
            if not found:
                raise PredictInputError(f"no file matches {item!r}")
        paths += [p for p in found if p not in paths]
    return paths


def read_checked(path: str) -> Tuple[Optional[bytes], Optional[str]]:
    """(bytes, None) for a readable image file, else (None, one-line reason)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        probe_image(data)
        return data, None
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    except BadImageError as e:
        return None, e.reason


class Predictor:
    """The serving_bytes signature of one SavedModel, top-k per image."""

    def __init__(self, model_dir: str, top_k: int):
        import tensorflow as tf
        self._tf = tf
        self.model_dir = model_dir
        self._serve = tf.saved_model.load(model_dir).signatures[features.BYTES_SIGNATURE]
        with open(os.path.join(model_dir, "assets", LABELS_FILE), "rb") as f:
            self.class_names = [n.decode("utf-8") for n in f.read().split(b"\n")[:-1]]
        self.top_k = max(1, min(top_k, len(self.class_names)))
        self.batch_size = batch_limit(read_model_facts(model_dir), BATCH_SIZE)  # serving.max_batch_images

    def predict(self, paths: List[str], images: List[bytes]) -> List[Prediction]:
        """One call for the batch; if it fails, one call per image so only the bad ones fail."""
        try:
            return self._answer(paths, images)
        except self._tf.errors.OpError as e:
            if len(paths) == 1:
                from components.trainer.serving_guard import refusal
                return [Prediction(paths[0], error=refusal(e.message) or "the model cannot decode this image")]
            return [p for path, image in zip(paths, images) for p in self.predict([path], [image])]

    def _answer(self, paths: List[str], images: List[bytes]) -> List[Prediction]:
        outputs = self._serve(**{features.BYTES_INPUT: self._tf.constant(images)})
        probabilities = outputs[features.PROBABILITIES_OUTPUT].numpy()
        results = []
        for path, row in zip(paths, probabilities):
            best = row.argsort()[::-1][:self.top_k]
            results.append(Prediction(path, [(self.class_names[i], round(float(row[i]), 6)) for i in best]))
        return results


def predict_paths(predictor: Predictor, paths: List[str], progress=None) -> Iterable[Prediction]:
    """Predictions in input order, batch by batch; `progress(done, total)` after each batch."""
    for start in range(0, len(paths), predictor.batch_size):
        chunk = paths[start:start + predictor.batch_size]
        checked = [(p, *read_checked(p)) for p in chunk]
        good = [(p, data) for p, data, error in checked if error is None]
        answers = {r.path: r for r in predictor.predict(*map(list, zip(*good)))} if good else {}
        for path, _, error in checked:
            yield answers.get(path) or Prediction(path, error=error)
        if progress:
            progress(start + len(chunk), len(paths))


def progress_bar(done: int, total: int, stream=sys.stderr, width: int = 30) -> None:
    filled = int(width * done / total)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} images")
    stream.write("\n" if done == total else "")
    stream.flush()


def format_line(prediction: Prediction) -> str:
    if prediction.error:
        return f"{prediction.path}: error: {prediction.error}"
    return f"{prediction.path}: " + ", ".join(f"{name} {p:.3f}" for name, p in prediction.top)
