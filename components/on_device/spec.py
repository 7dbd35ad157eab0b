"""OnDeviceModel's interface: its node id, the files it writes and pushes, its typed settings."""
from __future__ import annotations

import dataclasses
from typing import Tuple

from schemas.config import ServingConfig

NODE_ID = "OnDeviceModel"
REASON_PROPERTY = "reason"       # why not pushed, "" when pushed (`pushed` is the Pusher's name: pusher.spec)
FLOAT, INT8 = "float", "int8"    # the variants serving.tflite names
MODEL_FILES = {FLOAT: "model.tflite", INT8: "model_int8.tflite"}  # one file per variant, in the pushed folder
PREPROCESSING_FILE = "preprocessing.json"  # what the device does before the model (resize, size, scaling, channels)
REPORT_FILE = "on_device.json"   # in the artifact: sizes, agreement, accuracy, pushed or why not
FOLDER_SUFFIX = "-tflite"        # pushed to <serving_dir>/<model_name>-tflite/<version>/, beside the SavedModel's
REPRESENTATIVE_IMAGES = 100      # train-split images int8 quantization calibrates on, spread over the split


@dataclasses.dataclass(frozen=True)
class OnDeviceSettings:
    variants: Tuple[str, ...]   # serving.tflite: "both" -> (float, int8)
    min_agreement: float        # serving.tflite_min_agreement: below it, nothing TFLite is pushed
    model_name: str             # serving.model_name
    keep_versions: int          # serving.keep_versions: the TFLite folder keeps as many versions
    signing_key: str = ""       # serving.signing_key: signs the folder's manifest as the SavedModel's

    @classmethod
    def from_serving_config(cls, serving: ServingConfig) -> "OnDeviceSettings":
        variants = (FLOAT, INT8) if serving.tflite == "both" else (serving.tflite,)
        return cls(variants=variants, min_agreement=serving.tflite_min_agreement, model_name=serving.model_name,
                   keep_versions=serving.keep_versions, signing_key=serving.signing_key)


def tflite_model_dir(serving_model_dir: str) -> str:
    """`<serving_dir>/<model_name>-tflite` for the SavedModel's `<serving_dir>/<model_name>`."""
    return serving_model_dir.rstrip("/") + FOLDER_SUFFIX
