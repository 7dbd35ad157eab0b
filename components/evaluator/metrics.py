"""Reading the Evaluator's TFMA output back: the paired gate's counts, rules and verdict."""
from __future__ import annotations

import dataclasses
import json
from typing import Dict, Optional

import tensorflow_model_analysis as tfma

from components.evaluator.gate_metric import COUNTS_METRIC
from components.evaluator.paired import GateRules, PairedCounts, Verdict, judge
from schemas import features


@dataclasses.dataclass
class GateResult:
    counts: PairedCounts
    rules: GateRules
    verdict: Verdict

    @property
    def accuracy(self) -> Optional[float]:
        return self.counts.candidate_correct / self.counts.images if self.counts.images else None

    @property
    def baseline_accuracy(self) -> Optional[float]:
        if not (self.counts.has_baseline and self.counts.images):
            return None
        return self.counts.baseline_correct / self.counts.images

    @property
    def class_recall(self) -> Dict[str, float]:
        return {name: c.candidate_correct / c.images for name, c in self.counts.classes.items() if c.images}


def read_gate(evaluation_uri: str, split: str = "") -> Optional[GateResult]:
    """The gate's record on the overall slice (or on the slice of one `split`, e.g. the golden images),
    judged again with the rules it was run with."""
    wanted = [(features.SPLIT_KEY, split)] if split else []
    for metrics in tfma.load_metrics(evaluation_uri):
        keys = [(k.column, k.bytes_value.decode("utf-8")) for k in metrics.slice_key.single_slice_keys]
        if keys != wanted:
            continue
        for item in metrics.metric_keys_and_values:
            if item.key.name == COUNTS_METRIC and not item.key.is_diff:
                record = json.loads(item.value.bytes_value.decode("utf-8"))
                counts, rules = PairedCounts.from_dict(record["counts"]), GateRules(**record["rules"])
                return GateResult(counts, rules, judge(counts, rules))
    return None
