"""The data sections: `data` (what is ingested and how it is split) and `validation` (image-aware checks)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from schemas.config.base import AUTO, check
from schemas.span_pattern import ALLOWED_TOKENS, check_span_pattern


@dataclass
class DataConfig:
    # Images are resized to image_size x image_size; "auto": from the ingested images (docs/real_data.md):
    # their median short side rounded up to a multiple of 4, clamped to [image_size_auto_min, _max].
    image_size: Union[int, str] = AUTO
    image_size_auto_min: int = 28   # smaller images are upsampled to this (MNIST's side; docs/real_data.md)
    image_size_auto_max: int = 128  # cost grows with the square of the side
    validation_percent: int = 10    # share of images (by path hash) the Trainer selects the epoch on
    test_percent: int = 10          # share of images (by path hash) only the Evaluator sees
    schema_path: str = ""           # curated schema.pbtxt; empty -> SchemaGen infers one
    # Ingestion limits (components/image_example_gen): bad files are quarantined, these stop the run.
    max_bad_fraction: float = 0.1   # quarantined / image files found, above which ingestion stops
    min_images_per_class: int = 5   # usable images each class needs; 0: class folders without images are skipped
    max_image_pixels: int = 50_000_000  # width*height declared in the header; larger files are never decoded
    max_file_mb: float = 50.0       # larger files are quarantined unread
    # Batches (docs/scheduled-runs.md): "" = the data root holds the class folders; else the name of the
    # batch folders under it, with TFX's span tokens, e.g. "round-{SPAN}" or "day={YYYY}-{MM}-{DD}".
    span_pattern: str = ""
    window_spans: int = 1           # train on the newest N spans (needs data.span_pattern)
    # A fixed folder of class folders every run is also judged on, never trained on; "" = none.
    golden_dir: str = ""

    def validate(self) -> None:
        check(self.image_size == AUTO or 8 <= self.image_size <= 1024, "data.image_size", self.image_size,
               f"{AUTO!r} or an integer from 8 to 1024")
        check(8 <= self.image_size_auto_min <= self.image_size_auto_max <= 1024, "data.image_size_auto_min",
               (self.image_size_auto_min, self.image_size_auto_max),
               "8 <= data.image_size_auto_min <= data.image_size_auto_max <= 1024")
        for key in ("validation_percent", "test_percent"):
            check(1 <= getattr(self, key) <= 45, f"data.{key}", getattr(self, key), "an integer from 1 to 45")
        check(0 <= self.max_bad_fraction <= 1, "data.max_bad_fraction", self.max_bad_fraction,
               "a number from 0 to 1")
        check(self.min_images_per_class >= 0, "data.min_images_per_class", self.min_images_per_class,
               "an integer >= 0")
        check(1 <= self.max_image_pixels <= MAX_DECODABLE_PIXELS, "data.max_image_pixels",
               self.max_image_pixels, f"an integer from 1 to {MAX_DECODABLE_PIXELS} (Pillow's own bomb limit)")
        check(0 < self.max_file_mb <= 4096, "data.max_file_mb", self.max_file_mb, "a number above 0, at most 4096")
        problem = check_span_pattern(self.span_pattern)
        check(problem is None, "data.span_pattern", self.span_pattern,
               f"a batch folder name with {ALLOWED_TOKENS} ({problem}), e.g. round-{{SPAN}}")
        check(1 <= self.window_spans <= 1000, "data.window_spans", self.window_spans, "an integer from 1 to 1000")
        check(self.window_spans == 1 or bool(self.span_pattern), "data.window_spans", self.window_spans,
               "1 unless data.span_pattern names the batch folders")


# Pillow refuses to open any image above twice its default MAX_IMAGE_PIXELS (89,478,485).
MAX_DECODABLE_PIXELS = 178_956_970


@dataclass
class ValidationConfig:
    """Image-aware validation (components/image_validation): limits, and where the previous run is kept.

    The minimum images per class is `data.min_images_per_class`, checked again on what was ingested."""
    max_imbalance_ratio: float = 10.0    # largest / smallest class; above stops the run
    min_image_side: int = 32             # px; smaller images are a warning
    near_duplicate_hamming: int = 4      # dHash bits: near-duplicate candidates beyond leakage.ALL_PAIRS_BUDGET
    near_duplicate_min_similarity: float = 0.85  # floor on the 8x8 thumbnail correlation of a near-duplicate pair
    near_duplicate_ratio: float = 0.2    # pair distance (1 - correlation) <= this x the runner-up's (leakage.py)
    leakage_is_error: bool = False       # leakage stops the run instead of warning
    class_drift_threshold: float = 0.1   # L-infinity distance of class frequencies vs the previous run
    size_drift_threshold: float = 0.1    # Jensen-Shannon divergence of width/height vs the previous run
    reference_dir: str = ""              # the previous validated run; empty: under the pipeline root (docs/data-validation.md)

    def validate(self) -> None:
        check(self.max_imbalance_ratio >= 1, "validation.max_imbalance_ratio", self.max_imbalance_ratio,
               "a number >= 1")
        check(self.min_image_side >= 1, "validation.min_image_side", self.min_image_side, "an integer >= 1")
        check(0 <= self.near_duplicate_hamming <= 32, "validation.near_duplicate_hamming",
               self.near_duplicate_hamming, "an integer from 0 to 32 (bits of a 64-bit dHash)")
        check(0 < self.near_duplicate_min_similarity <= 1, "validation.near_duplicate_min_similarity",
               self.near_duplicate_min_similarity, "a number in (0, 1]")
        check(0 < self.near_duplicate_ratio <= 1, "validation.near_duplicate_ratio", self.near_duplicate_ratio,
               "a number in (0, 1]")
        for key in ("class_drift_threshold", "size_drift_threshold"):
            check(0 < getattr(self, key) <= 1, f"validation.{key}", getattr(self, key), "a number in (0, 1]")

