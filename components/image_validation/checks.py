"""The image-aware checks, as pure functions of per-image facts.

Each check returns `Finding`s: `blocking` ones stop the run before training,
`warning` ones are reported in the run summary. No TFX here, so every check is
unit-tested on a handful of generated facts.
"""
import collections
import statistics
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from components.image_validation.facts import ImageFacts
from schemas.features import GOLDEN_SPLIT, HELD_OUT_SPLITS, TEST_SPLIT, TRAIN_SPLIT

BLOCKING = "blocking"
WARNING = "warning"
_EXAMPLES_SHOWN = 5  # paths named in a finding's message; the report lists them all


@dataclass(frozen=True)
class Finding:
    check: str      # e.g. "min_images_per_class", "leakage", "class_drift"
    severity: str   # BLOCKING or WARNING
    message: str    # what is wrong, with the numbers and what to do

    def to_dict(self):
        return asdict(self)


def class_counts(facts: Iterable[ImageFacts]) -> Dict[str, Dict[str, int]]:
    """{split: {class: images}}, classes sorted, plus an "all" split summing the training data's splits
    (not the golden folder's: it judges models, and the class checks are about what is trained on)."""
    counts: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for f in facts:
        counts[f.split][f.label_name] += 1
        if f.split != GOLDEN_SPLIT:
            counts["all"][f.label_name] += 1
    return {split: dict(sorted(c.items())) for split, c in sorted(counts.items())}


def check_class_counts(counts: Dict[str, Dict[str, int]], min_images_per_class: int,
                       max_imbalance_ratio: float) -> List[Finding]:
    """Too few images in a class (over all splits), too unbalanced classes, a class absent from a split."""
    findings = []
    total = counts.get("all", {})
    small = {name: n for name, n in total.items() if n < min_images_per_class}
    if small:
        findings.append(Finding("min_images_per_class", BLOCKING, (
            f"class(es) with fewer than data.min_images_per_class={min_images_per_class} images: "
            + ", ".join(f"{name} ({n})" for name, n in small.items())
            + "; add images to them, remove the class folder, or lower data.min_images_per_class")))
    if total:
        ratio = max(total.values()) / max(min(total.values()), 1)
        if ratio > max_imbalance_ratio:
            most, least = max(total, key=total.get), min(total, key=total.get)
            findings.append(Finding("class_imbalance", BLOCKING, (
                f"class imbalance {ratio:.2f} (largest {most}: {total[most]}, smallest {least}: "
                f"{total[least]}) is above validation.max_imbalance_ratio={max_imbalance_ratio}; "
                "collect more of the small classes or raise the limit")))
    for split in (TRAIN_SPLIT, *HELD_OUT_SPLITS):
        missing = sorted(set(total) - set(counts.get(split, {})))
        if missing:
            findings.append(Finding("class_missing_from_split", WARNING, (
                f"class(es) {', '.join(missing)} have no images in the {split} split; "
                "with more images per class the path-hash split puts some in each")))
    return findings


def check_test_split(counts: Dict[str, Dict[str, int]], min_test_images: int, min_test_per_class: int,
                     small_test_split: str) -> List[Finding]:
    """A test split too small for the gate's verdict to mean much: a warning, or blocking with "fail".

    One test image is 100/n points of accuracy; with a handful per class a single
    image moves a class's recall by a third. The config floors say what "too small" is.
    """
    test = counts.get(TEST_SPLIT, {})
    thin = {name: test.get(name, 0) for name in counts.get("all", {}) if test.get(name, 0) < min_test_per_class}
    total = sum(test.values())
    if total >= min_test_images and not thin:
        return []
    problems = []
    if total < min_test_images:
        problems.append(f"{total} image(s), below eval.min_test_images={min_test_images}")
    if thin:
        problems.append(f"class(es) below eval.min_test_per_class={min_test_per_class}: "
                        + ", ".join(f"{name} ({n})" for name, n in thin.items()))
    severity = BLOCKING if small_test_split == "fail" else WARNING
    return [Finding("small_test_split", severity, (
        f"the test split is too small to judge a model: {'; '.join(problems)}; one test image is "
        f"{100 / max(total, 1):.1f} points of accuracy. Add images or raise data.test_percent "
        f"(eval.small_test_split={small_test_split})"))]


def _distribution(values: Sequence[float]) -> Dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]
    return {"min": ordered[0], "p05": pct(0.05), "median": statistics.median(ordered),
            "p95": pct(0.95), "max": ordered[-1], "mean": round(statistics.fmean(ordered), 4)}


def geometry(facts: Sequence[ImageFacts]) -> Dict[str, object]:
    """Width, height and aspect (width/height) distributions; counts of stored modes and channels."""
    return {
        "width": _distribution([f.width for f in facts]),
        "height": _distribution([f.height for f in facts]),
        "aspect": _distribution([round(f.width / max(f.height, 1), 4) for f in facts]),
        "modes": dict(sorted(collections.Counter(f.mode for f in facts).items())),
        "channels": {str(k): v for k, v in sorted(collections.Counter(f.channels for f in facts).items())},
    }


def check_small_images(facts: Sequence[ImageFacts], min_image_side: int) -> Tuple[List[Finding], List[str]]:
    """Images whose shorter side is below `min_image_side`: upscaled to the model's size, they carry little."""
    small = sorted(f.path for f in facts if min(f.width, f.height) < min_image_side)
    if not small:
        return [], []
    return [Finding("min_image_side", WARNING, (
        f"{len(small)} of {len(facts)} image(s) have a side below validation.min_image_side="
        f"{min_image_side} px, e.g. {', '.join(small[:_EXAMPLES_SHOWN])}"))], small


def check_class_set(observed: Iterable[str], expected: Optional[Iterable[str]], source: str) -> List[Finding]:
    """A class not expected, or an expected class with no images: never a silent relabelling.

    Labels are indices into the sorted class list, so one class more or less
    shifts the meaning of every label after it.
    """
    if expected is None:
        return []
    observed, expected = set(observed), set(expected)
    findings = []
    if observed - expected:
        findings.append(Finding("unexpected_class", BLOCKING, (
            f"class(es) {', '.join(sorted(observed - expected))} are not in the expected classes "
            f"({', '.join(sorted(expected))}) from {source}; remove the folder(s), or if the new class "
            "is intended, add it to the schema's label_name domain (or, without a curated schema, "
            "delete the reference, see docs/data-validation.md, 'Image-aware validation')")))
    if expected - observed:
        findings.append(Finding("vanished_class", BLOCKING, (
            f"expected class(es) {', '.join(sorted(expected - observed))} from {source} have no images; "
            "restore them, or if they were dropped on purpose, update the schema or reference")))
    return findings
