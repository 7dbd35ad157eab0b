"""The gate's decision, as plain Python: paired counts in, a verdict a person can act on out.

The counts come from `PairedGate`, a TFMA metric computed in the Evaluator's own
Beam pipeline (components/evaluator/gate_metric.py): for each test image, was the
candidate right, was the served model right. Both models saw the same images, so
only the images where they disagree say which is better; the exact McNemar test
asks whether "candidate wrong, served right" outnumbers the reverse by more than
chance. The summary re-reads the counts and calls `judge` again, so the words it
prints are the rules that blessed (or not) the model. See docs/evaluation-gate.md.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional


def mcnemar_p_worse(better: int, worse: int) -> float:
    """One-sided exact McNemar p-value that the candidate is worse than the baseline.

    Under "equally good", each of the `better + worse` discordant images is a fair
    coin; p is the chance of `worse` or more heads: sum_{k>=worse} C(n, k) / 2^n.
    """
    n = better + worse
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2 ** n


TALLIES = ("images", "candidate_correct", "baseline_correct", "better", "worse")


@dataclasses.dataclass
class ClassCounts:
    images: int = 0
    candidate_correct: int = 0
    baseline_correct: int = 0
    better: int = 0
    worse: int = 0


def tally(counts, mine: bool, other: bool, has_baseline: bool) -> None:
    """Add one test image to a PairedCounts or ClassCounts (both carry the TALLIES fields)."""
    counts.images += 1
    counts.candidate_correct += mine
    counts.baseline_correct += other
    if has_baseline:
        counts.better += mine and not other
        counts.worse += other and not mine


def add_tallies(into, other) -> None:
    for name in TALLIES:
        setattr(into, name, getattr(into, name) + getattr(other, name))


@dataclasses.dataclass
class PairedCounts:
    """Per-image correctness of both models on the test split, summed; `has_baseline` False on a first run."""
    has_baseline: bool = False
    images: int = 0
    candidate_correct: int = 0
    baseline_correct: int = 0
    better: int = 0   # candidate right, baseline wrong
    worse: int = 0    # candidate wrong, baseline right
    classes: Dict[str, ClassCounts] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PairedCounts":
        classes = {name: ClassCounts(**c) for name, c in d.get("classes", {}).items()}
        return cls(**{**d, "classes": classes})


@dataclasses.dataclass(frozen=True)
class GateRules:
    """The `eval.*` thresholds the gate applies (stored beside the counts, so a summary shows what decided)."""
    min_accuracy: float
    confidence: float
    max_class_recall_drop: float
    min_class_recall: float


@dataclasses.dataclass
class Verdict:
    blessed: bool
    reasons: List[str]   # one per failed rule, naming the rule's config key; empty when blessed
    sentence: str        # the line the run summary prints


def _accuracy(correct: int, images: int) -> Optional[float]:
    return correct / images if images else None


def class_failures(counts: PairedCounts, rules: GateRules) -> List[str]:
    """Each class whose recall is below the floor, or fell too far against the served model.

    A fall counts only when it is also worse at the gate's confidence (the same exact
    McNemar test, on the class's own images): with 4 test images in a class, one
    image is 25 points of recall, and one image must not decide a push.
    """
    failures = []
    for name, c in sorted(counts.classes.items()):
        if not c.images:
            continue
        recall = c.candidate_correct / c.images
        if recall < rules.min_class_recall:
            failures.append(f"class {name} recall {recall:.3f} is below eval.min_class_recall="
                            f"{rules.min_class_recall} ({c.candidate_correct}/{c.images} test images)")
        served, p_worse = c.baseline_correct / c.images, mcnemar_p_worse(c.better, c.worse)
        if (counts.has_baseline and served - recall > rules.max_class_recall_drop + 1e-9
                and p_worse < 1 - rules.confidence):
            failures.append(f"class {name} recall fell {served:.3f} -> {recall:.3f} against the served model "
                            f"({c.worse} worse, {c.better} better; exact McNemar p={p_worse:.3g}), more than "
                            f"eval.max_class_recall_drop={rules.max_class_recall_drop}")
    return failures


def judge(counts: PairedCounts, rules: GateRules) -> Verdict:
    """Blessed when the floor holds, every class passes, and (with a served model) not worse at the confidence."""
    reasons = []
    accuracy = _accuracy(counts.candidate_correct, counts.images)
    if accuracy is None or accuracy < rules.min_accuracy:
        reasons.append(f"accuracy {accuracy or 0:.3f} is below eval.min_accuracy={rules.min_accuracy}")
    p_worse = mcnemar_p_worse(counts.better, counts.worse)
    worse = counts.has_baseline and p_worse < 1 - rules.confidence
    if worse:
        reasons.append(f"worse than the served model at {rules.confidence:.0%} confidence "
                       f"(exact McNemar p={p_worse:.3g})")
    reasons += class_failures(counts, rules)
    return Verdict(not reasons, reasons, _sentence(counts, rules, reasons, worse, p_worse))


def _sentence(counts: PairedCounts, rules: GateRules, reasons: List[str], worse: bool, p_worse: float) -> str:
    candidate = _accuracy(counts.candidate_correct, counts.images) or 0.0
    if counts.has_baseline:
        served = _accuracy(counts.baseline_correct, counts.images) or 0.0
        differ = counts.better + counts.worse
        head = (f"candidate {candidate:.3f} vs served {served:.3f} on {counts.images:,} test images; "
                f"{differ:,} images differ ({counts.better:,} better, {counts.worse:,} worse); ")
        head += (f"worse at {rules.confidence:.0%} confidence (exact McNemar p={p_worse:.3g})" if worse
                 else f"not worse at {rules.confidence:.0%} confidence")
    else:
        head = (f"candidate {candidate:.3f} on {counts.images:,} test images; no served model yet, so "
                f"the floors alone decide (eval.min_accuracy={rules.min_accuracy})")
    others = [r for r in reasons if not r.startswith("worse than")]
    if not reasons:
        return head + ": blessed"
    if others:
        head += ("; " if worse else ", but ") + "; ".join(others)
    return head + ": not blessed"
