"""Transform's interface: its node id, the settings `preprocessing_fn` receives, what it records."""
from __future__ import annotations

import dataclasses
from typing import Union

from schemas.config import DataConfig

NODE_ID = "Transform"
# user code, referenced by import path (never module_file=): the installed package is what runs
PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"

# Custom properties of the transform_graph artifact (read by the run summary).
IMAGE_SIZE_PROPERTY = "image_size"              # int: the side the graph resizes to
IMAGE_SIZE_SOURCE_PROPERTY = "image_size_source"  # "auto" or "data.image_size"
MEDIAN_SHORT_SIDE_PROPERTY = "median_short_side"
RESIZE_NOTE_PROPERTY = "resize_note"            # "" or one line on heavy up/downsampling
IMAGE_SIZE_FILE = "image_size.json"


@dataclasses.dataclass(frozen=True)
class TransformSettings:
    """Transform's custom_config: `preprocessing_fn` reads `image_size`, an integer by then (the executor
    resolves `auto` from the ingested images' short sides, between the two bounds, never below the
    backbone's floor: schemas/backbones.py)."""
    image_size: Union[int, str]
    image_size_auto_min: int
    image_size_auto_max: int
    backbone: str  # model.backbone

    @classmethod
    def from_config(cls, data: DataConfig, backbone: str) -> "TransformSettings":
        return cls(data.image_size, data.image_size_auto_min, data.image_size_auto_max, backbone)
