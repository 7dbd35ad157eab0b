"""All image checks over one run's data: per-image facts in, the report out.

Kept apart from the TFX component so the whole decision (which findings,
which severity) is tested without a pipeline.
"""
import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from components.image_validation import checks, drift, leakage
from components.image_validation.facts import ImageFacts
from components.image_validation.report import build_report
from components.image_validation.spec import ImageValidationSettings


def _imbalance(counts: Dict[str, Dict[str, int]]) -> Optional[float]:
    total = counts.get("all", {})
    return round(max(total.values()) / max(min(total.values()), 1), 4) if total else None


def validate_images(
    facts: Sequence[ImageFacts],
    settings: ImageValidationSettings,
    expected_classes: Optional[Sequence[str]] = None,
    expected_source: str = "",
    current_stats=None,
    previous_stats=None,
) -> Dict[str, Any]:
    """Run every check with the thresholds in `settings` (`validation.*`, the class minimum, the test-split floors).

    `expected_classes` is None when there is nothing to compare with (first run,
    no curated schema); drift is measured only when both statistics are given.
    """
    counts = checks.class_counts(facts)
    findings: List[checks.Finding] = checks.check_class_counts(
        counts, settings.min_images_per_class, settings.max_imbalance_ratio)
    findings += checks.check_test_split(
        counts, settings.min_test_images, settings.min_test_per_class, settings.small_test_split)
    findings += checks.check_class_set(counts.get("all", {}), expected_classes, expected_source)
    small_findings, small_paths = checks.check_small_images(facts, settings.min_image_side)
    findings += small_findings
    similarity, ratio = settings.near_duplicate_min_similarity, settings.near_duplicate_ratio
    leaks = leakage.find_leaks(facts, settings.near_duplicate_hamming, similarity, ratio)
    findings += leakage.check_leakage(leaks, similarity, ratio, settings.leakage_is_error)
    measured = {}
    compared = current_stats is not None and previous_stats is not None
    if compared:
        drift_findings, measured = drift.compare(
            current_stats, previous_stats, settings.class_drift_threshold, settings.size_drift_threshold)
        findings += drift_findings
    splits = sorted({f.split for f in facts})
    return build_report(
        findings,
        classes=sorted(counts.get("all", {})),
        class_counts=counts,
        imbalance_ratio=_imbalance(counts),
        geometry={split: checks.geometry([f for f in facts if f.split == split]) for split in splits},
        small_images=small_paths,
        expected_classes=None if expected_classes is None else
        {"source": expected_source, "classes": sorted(expected_classes)},
        leaks=[leak.to_dict() for leak in leaks],
        drift={"compared": compared, "measurements": measured},
        limits=dataclasses.asdict(settings),
    )
