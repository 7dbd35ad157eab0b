"""Reading the Evaluator's TFMA output: accuracy of candidate and baseline, per class."""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import tensorflow_model_analysis as tfma

from components.evaluator.component import ACCURACY_KEY, BASELINE, CANDIDATE
from schemas import features


@dataclasses.dataclass
class Accuracy:
    candidate: Optional[float] = None
    baseline: Optional[float] = None
    per_class: Dict[str, float] = dataclasses.field(default_factory=dict)


def read_accuracy(evaluation_uri: str) -> Accuracy:
    """Overall accuracy of both models, and the candidate's accuracy per class slice."""
    result = Accuracy()
    for metrics in tfma.load_metrics(evaluation_uri):
        slice_keys = {k.column: k for k in metrics.slice_key.single_slice_keys}
        for item in metrics.metric_keys_and_values:
            key = item.key
            if key.name != ACCURACY_KEY or key.is_diff:
                continue
            value = item.value.double_value.value
            if not slice_keys:
                if key.model_name == BASELINE:
                    result.baseline = value
                elif key.model_name in (CANDIDATE, ""):
                    result.candidate = value
            elif features.LABEL_NAME_KEY in slice_keys and key.model_name in (CANDIDATE, ""):
                name = slice_keys[features.LABEL_NAME_KEY].bytes_value.decode("utf-8", "replace")
                result.per_class[name] = value
    return result
