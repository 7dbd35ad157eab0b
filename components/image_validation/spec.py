"""ImageDataValidator's interface: its node id, its artifact type's files and properties, and the typed
settings its checks read."""
from __future__ import annotations

import dataclasses

from schemas.config import Config

NODE_ID = "ImageDataValidator"
STATUS_PROPERTY = "status"          # "passed" | "blocked"
WARNINGS_PROPERTY = "warnings"      # number of warnings
REPORT_FILE = "image_validation.json"
SUMMARY_FILE = "summary.txt"
FACTS_PREFIX = "facts"              # facts-*.jsonl: one line per image of every split
REFERENCE_STATS_FILE = "train_FeatureStats.pb"  # beside the reference run's report


@dataclasses.dataclass(frozen=True)
class ImageValidationSettings:
    """The thresholds the checks read: `validation.*` (but where the reference lives), the class minimum
    (`data.min_images_per_class`) and the test-split floors (`eval.min_test_images`,
    `eval.min_test_per_class`, `eval.small_test_split`)."""
    max_imbalance_ratio: float
    min_image_side: int
    near_duplicate_hamming: int
    near_duplicate_min_similarity: float
    near_duplicate_ratio: float
    leakage_is_error: bool
    class_drift_threshold: float
    size_drift_threshold: float
    min_images_per_class: int
    min_test_images: int
    min_test_per_class: int
    small_test_split: str

    @classmethod
    def from_config(cls, cfg: Config) -> "ImageValidationSettings":
        sources = (cfg.validation, cfg.data, cfg.eval)
        return cls(**{f.name: next(getattr(s, f.name) for s in sources if hasattr(s, f.name))
                      for f in dataclasses.fields(cls)})
