"""`PairedGate`: a TFMA metric that pairs candidate and served model on each test image.

TFMA runs every model of the EvalConfig over each example and hands a metric's
combiner one extract holding all models' predictions, so a single combiner sees
both answers for the same image: the paired comparison needs no second pass and
no evaluation loop beside TFMA. It emits two values for the candidate:

- `paired_gate`: 1.0 when `paired.judge` blesses, else 0.0; its value threshold
  (>= 1) is what TFMA's validation, hence TFX's blessing, rests on;
- `paired_gate_counts`: the counts and rules as JSON bytes, so the run summary
  can print the same verdict in words (components/evaluator/metrics.py).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator.paired import ClassCounts, GateRules, PairedCounts, add_tallies, judge, tally
from schemas import carrier, features

GATE_METRIC = "paired_gate"
COUNTS_METRIC = "paired_gate_counts"


class PairedGate(metric_types.Metric):
    """The gate as a TFMA metric. TFMA builds it from its MetricConfig's JSON, which is a GateConfig
    (spec.py): `rules` holds the `eval.*` thresholds (GateRules as a dict, the form TFMA passes kwargs in).

    `force_reason` is not used here: it rides in the same MetricConfig so the
    Evaluator's executor finds it there after TFMA has judged (executor.py).
    """

    def __init__(self, rules: Optional[dict] = None, force_reason: str = "", name: str = GATE_METRIC):
        super().__init__(_paired_gate_computations, rules=rules or {}, name=name)
        self.force_reason = force_reason

    @property
    def compute_confidence_interval(self) -> bool:
        return False


def _paired_gate_computations(rules: dict, name: str, eval_config: tfma.EvalConfig,
                              model_names: Optional[List[str]] = None) -> metric_types.MetricComputations:
    """One computation for the candidate; the baseline is the EvalConfig's baseline spec, if it still has one.

    TFX's Evaluator drops the baseline spec when no baseline model is given (a first run).
    """
    baseline = next((s.name for s in eval_config.model_specs if s.is_baseline), None)
    spec = next(s for s in eval_config.model_specs if not s.is_baseline)
    candidate = spec.name
    keys = [metric_types.MetricKey(name=name, model_name=candidate),
            metric_types.MetricKey(name=COUNTS_METRIC, model_name=candidate)]
    preprocessor = metric_types.StandardMetricInputsPreprocessor(
        include_filter={tfma.constants.FEATURES_KEY: {features.LABEL_NAME_KEY: {}}},
        include_default_inputs=True)
    return [metric_types.MetricComputation(
        keys=keys, preprocessors=[preprocessor],
        combiner=_PairedCombiner(keys, candidate, baseline, carrier.from_mapping(GateRules, rules),
                                  spec.prediction_key))]


def _rows(value, prediction_key: str) -> np.ndarray:
    """Predictions as [examples, classes] (TFMA may hand one example or a batch).

    With several model outputs TFMA keeps them all as a dict; the ModelSpec's
    `prediction_key` names the probabilities (standard metrics apply it the same way).
    """
    if isinstance(value, dict):
        value = value[prediction_key]
    array = np.asarray(value)
    return array.reshape(1, -1) if array.ndim <= 1 else array


def _class_names(element, count: int) -> List[str]:
    names = (element.features or {}).get(features.LABEL_NAME_KEY)
    if names is None:
        return [""] * count
    flat = np.asarray(names).reshape(-1)
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in flat]


class _PairedCombiner(beam.CombineFn):
    """Accumulates PairedCounts; outputs the gate's 0/1 and the counts as JSON."""

    def __init__(self, keys: List[metric_types.MetricKey], candidate: str, baseline: Optional[str],
                 rules: GateRules, prediction_key: str):
        self._keys, self._candidate, self._baseline, self._rules = keys, candidate, baseline, rules
        self._prediction_key = prediction_key

    def create_accumulator(self) -> PairedCounts:
        return PairedCounts(has_baseline=self._baseline is not None)

    def add_input(self, acc: PairedCounts, element: metric_types.StandardMetricInputs) -> PairedCounts:
        labels = np.asarray(element.get_labels(self._candidate)).reshape(-1).astype(int)
        ours = _rows(element.get_predictions(self._candidate), self._prediction_key).argmax(axis=1) == labels
        if self._baseline is not None:
            theirs = _rows(element.get_predictions(self._baseline), self._prediction_key).argmax(axis=1) == labels
        else:
            theirs = np.zeros_like(ours)
        for name, label, mine, other in zip(_class_names(element, len(labels)), labels, ours, theirs):
            tally(acc, bool(mine), bool(other), acc.has_baseline)
            tally(acc.classes.setdefault(name or str(label), ClassCounts()), bool(mine), bool(other),
                  acc.has_baseline)
        return acc

    def merge_accumulators(self, accumulators: Iterable[PairedCounts]) -> PairedCounts:
        merged = self.create_accumulator()
        for acc in accumulators:
            add_tallies(merged, acc)
            for name, c in acc.classes.items():
                add_tallies(merged.classes.setdefault(name, ClassCounts()), c)
        return merged

    def extract_output(self, acc: PairedCounts) -> Dict[metric_types.MetricKey, object]:
        gate_key, counts_key = self._keys
        record = {"counts": acc.to_dict(), "rules": dataclasses.asdict(self._rules)}
        return {gate_key: float(judge(acc, self._rules).blessed),
                counts_key: json.dumps(record, sort_keys=True).encode("utf-8")}

