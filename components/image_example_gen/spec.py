"""ImageExampleGen's interface: its node id, what it records on its Examples artifact and beside its
splits, and the typed settings its executor receives. Light (no TFX): the CLI and the summary read it."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict

from schemas.config import DataConfig

NODE_ID = "ImageExampleGen"
HASH_BUCKETS = 100
# What the driver globs under input_base to fingerprint the input (entry count, sizes, mtimes) for
# caching: the class folders, whose mtimes change when files are added, removed or renamed in them. Not
# the files: the driver stats every match and would crash on a broken link or a non-UTF-8 name, which
# ingestion quarantines instead.
INPUT_PATTERN = "*"

# Custom properties of the Examples artifact.
LABEL_NAMES_PROPERTY = "label_names"    # JSON text of the class list, index == label
NUM_EXAMPLES_PROPERTY = "num_examples"  # images ingested (all splits); `imgpipe runs` reads it
NUM_QUARANTINED_PROPERTY = "num_quarantined"
# TFX's own `span` property holds the newest span read; these name every span of the window, and their
# folders (JSON lists).
SPANS_PROPERTY = "spans"
SPAN_FOLDERS_PROPERTY = "span_folders"

# Files at the root of the Examples artifact, beside the Split-* folders (manifest.py writes and reads them).
LABELS_FILE = "labels.txt"          # one class name per line; line number == label (also the model's asset)
MANIFEST_FILE = "manifest.json"     # class counts, the data root, spans, the short-side histogram, golden
QUARANTINE_FILE = "quarantine.json"  # files set aside: [{path, reason, size_bytes, class_name}]
# manifest.json keys read by other steps
SHORT_SIDE_HISTOGRAM = "short_side_histogram"  # {short side px: images}, for data.image_size=auto
SPANS_KEY = "spans"                 # the span numbers read (also in the model's facts file)
GOLDEN_KEY = "golden"               # the golden folder and its images per class

# The one custom_config key (FileBasedExampleGen's only slot): IngestSettings as JSON.
SETTINGS_KEY = "settings"


@dataclasses.dataclass(frozen=True)
class IngestLimits:
    """When quarantining bad files is no longer enough and ingestion stops (`data.*`; limits.py applies them)."""
    max_bad_fraction: float
    min_images_per_class: int
    max_image_pixels: int
    max_file_mb: float

    @classmethod
    def from_data_config(cls, data: DataConfig) -> "IngestLimits":
        return cls(**{f.name: getattr(data, f.name) for f in dataclasses.fields(cls)})

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    """What the executor needs beyond TFX's own exec properties.

    `content_fingerprint` (every file's path, size and mtime: pipeline/local/caching.py) is not read by the
    executor: it is here so a cached local run re-ingests when any file changed, not only a class folder.
    """
    limits: IngestLimits
    span_pattern: str = ""
    window_spans: int = 1
    golden_dir: str = ""
    content_fingerprint: str = ""

    @classmethod
    def from_data_config(cls, data: DataConfig, content_fingerprint: str = "") -> "IngestSettings":
        return cls(limits=IngestLimits.from_data_config(data), span_pattern=data.span_pattern,
                   window_spans=data.window_spans if data.span_pattern else 1, golden_dir=data.golden_dir,
                   content_fingerprint=content_fingerprint)

    @classmethod
    def defaults(cls) -> "IngestSettings":
        return cls.from_data_config(DataConfig())


