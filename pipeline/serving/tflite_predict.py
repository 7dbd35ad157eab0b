"""`imgpipe predict --model <.tflite or a pushed TFLite folder>`: what a device would answer.

The device does the Transform's preprocessing itself, as the folder's `preprocessing.json` says;
here that is the Transform's own function (components/transform/preprocessing.py decode_and_resize)
at the size the file names, so a difference from the SavedModel's answer is the conversion's, not
ours. Same answers (`Prediction`) and interface as predict.Predictor, so the CLI prints the same
JSON fields. A folder means its `model.tflite` (float32), else its `model_int8.tflite`.
"""
from __future__ import annotations

import json
import os
from typing import List

import numpy as np

from components.image_example_gen.spec import LABELS_FILE
from components.on_device.spec import FLOAT, INT8, MODEL_FILES, PREPROCESSING_FILE
from pipeline.serving.predict import Prediction, PredictInputError

TFLITE_SUFFIX = ".tflite"


def tflite_file(path: str) -> str:
    """The .tflite file `path` names (a file, or a folder holding one), or "" when it names none."""
    if path.endswith(TFLITE_SUFFIX) and os.path.isfile(path):
        return path
    found = [os.path.join(path, MODEL_FILES[v]) for v in (FLOAT, INT8)
             if os.path.isfile(os.path.join(path, MODEL_FILES[v]))]
    return found[0] if found else ""


def read_image_size(folder: str) -> int:
    """The side preprocessing.json says to resize to; refuses steps this reader does not do."""
    path = os.path.join(folder, PREPROCESSING_FILE)
    if not os.path.isfile(path):
        raise PredictInputError(f"no {PREPROCESSING_FILE} beside the model in {folder}: give the pushed TFLite "
                                "folder (<serving dir>/<model name>-tflite/<version>) or a file inside it")
    with open(path, encoding="utf-8") as f:
        facts = json.load(f)
    resize = facts["resize"]
    if (resize["method"], resize["antialias"], facts["scaling"]["divide_by"]) != ("bilinear", True, 255.0):
        raise PredictInputError(f"{path} asks for preprocessing imgpipe does not do: {resize}, {facts['scaling']}")
    return int(resize["width"])


class TFLitePredictor:
    """A TFLite model and the Transform's preprocessing, top-k per image, one image per invoke."""

    batch_size = 64  # images read and checked at a time (the interpreter takes one)

    def __init__(self, model_file: str, top_k: int):
        import tensorflow as tf
        self._tf = tf
        self.model_dir = model_file
        folder = os.path.dirname(model_file)
        self.image_size = read_image_size(folder)
        with open(os.path.join(folder, LABELS_FILE), "rb") as f:
            self.class_names = [n.decode("utf-8") for n in f.read().split(b"\n")[:-1]]
        self.top_k = max(1, min(top_k, len(self.class_names)))
        self._interpreter = tf.lite.Interpreter(model_path=model_file)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]

    def predict(self, paths: List[str], images: List[bytes]) -> List[Prediction]:
        return [self._one(path, image) for path, image in zip(paths, images)]

    def _one(self, path: str, image: bytes) -> Prediction:
        from components.transform.preprocessing import decode_and_resize
        try:
            pixels = decode_and_resize(self._tf.constant(image), self.image_size).numpy()
        except self._tf.errors.OpError:
            return Prediction(path, error="the model cannot decode this image")
        self._interpreter.set_tensor(self._input["index"], pixels[None].astype(self._input["dtype"]))
        self._interpreter.invoke()
        row = self._interpreter.get_tensor(self._output["index"])[0].astype(np.float32)
        best = row.argsort()[::-1][:self.top_k]
        return Prediction(path, [(self.class_names[i], round(float(row[i]), 6)) for i in best])
