"""The ingestion limits: when quarantining bad files is no longer enough and the run must stop.

The values come from `data.*` in schemas/config/ (defaults and validation
live there) and reach the executor through the ExampleGen's `custom_config`.
"""
from __future__ import annotations

import collections
from typing import Dict, List, Mapping, Sequence

from components.image_example_gen.quarantine import Quarantined
from components.image_example_gen.spec import IngestLimits

_SHOWN = 5  # files named in an error message; the report lists them all


class IngestionLimitError(ValueError):
    """Too much of the data is unusable to train on; the message names the limit and its config key."""


def check_class_minimum(counts: Mapping[str, int], limits: IngestLimits, what: str, report_hint: str = "") -> None:
    """Every class needs `min_images_per_class` images; `what` says which images were counted."""
    small = {name: n for name, n in counts.items() if n < limits.min_images_per_class}
    if not small:
        return
    listed = ", ".join(f"{name} ({n})" for name, n in sorted(small.items()))
    raise IngestionLimitError(
        f"class(es) with fewer than data.min_images_per_class={limits.min_images_per_class} {what}: {listed}. "
        "Add images to these class folders, remove the folders that are not classes, or lower "
        "data.min_images_per_class (0 skips class folders that hold no image files)." + report_hint)


def check_bad_fraction(quarantined: Sequence[Quarantined], num_files: int, limits: IngestLimits,
                       report_path: str) -> None:
    """Stop when more than `max_bad_fraction` of the image files were quarantined."""
    fraction = len(quarantined) / num_files if num_files else 0.0
    if fraction <= limits.max_bad_fraction:
        return
    raise IngestionLimitError(
        f"{len(quarantined)} of {num_files} image files ({fraction:.1%}) were quarantined, above "
        f"data.max_bad_fraction={limits.max_bad_fraction:g}. {summarise(quarantined)}. "
        f"Full list: {report_path}. Replace or remove those files, or raise data.max_bad_fraction "
        f"(e.g. --set data.max_bad_fraction={min(1.0, round(fraction + 0.05, 2)):g}).")


def summarise(quarantined: Sequence[Quarantined]) -> str:
    """Reasons with their counts, and the first few files, for a one-paragraph message."""
    by_reason = collections.Counter(_reason_kind(q.reason) for q in quarantined)
    reasons = "; ".join(f"{n} x {reason}" for reason, n in by_reason.most_common())
    first = ", ".join(f"{q.path} ({q.reason})" for q in quarantined[:_SHOWN])
    more = f" and {len(quarantined) - _SHOWN} more" if len(quarantined) > _SHOWN else ""
    return f"Reasons: {reasons}. Files: {first}{more}"


def _reason_kind(reason: str) -> str:
    """The reason without its file-specific detail (what follows the first colon)."""
    return reason.split(":", 1)[0]


def ingested_counts(class_names: List[str], candidates: Mapping[str, int],
                    quarantined: Sequence[Quarantined]) -> Dict[str, int]:
    """Images ingested per class: the candidates found minus the files quarantined."""
    lost = collections.Counter(q.class_name for q in quarantined)
    return {name: candidates.get(name, 0) - lost.get(name, 0) for name in class_names}
