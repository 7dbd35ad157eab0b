"""Drift against the previous validated run's statistics, with TFDV's comparators.

The class distribution is compared with the L-infinity distance of the
`label_name` value frequencies, the image size with the (approximate)
Jensen-Shannon divergence of the `width` and `height` histograms. The schema
used here exists only to carry those comparators: it is inferred from the
current statistics, so TFDV's other checks find nothing and only drift remains.
"""
from typing import Dict, List, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components.image_validation.checks import BLOCKING, Finding
from schemas import features

_DRIFT_REASONS = {
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
}
_CHECK_NAMES = {features.LABEL_NAME_KEY: "class_drift", features.WIDTH_KEY: "size_drift",
                features.HEIGHT_KEY: "size_drift"}
_THRESHOLD_KEYS = {"class_drift": "validation.class_drift_threshold",
                   "size_drift": "validation.size_drift_threshold"}


def drift_schema(current: statistics_pb2.DatasetFeatureStatisticsList, class_threshold: float,
                 size_threshold: float):
    schema = tfdv.infer_schema(current)
    tfdv.get_feature(schema, features.LABEL_NAME_KEY).drift_comparator.infinity_norm.threshold = class_threshold
    for key in (features.WIDTH_KEY, features.HEIGHT_KEY):
        tfdv.get_feature(schema, key).drift_comparator.jensen_shannon_divergence.threshold = size_threshold
    return schema


def compare(current: statistics_pb2.DatasetFeatureStatisticsList,
            previous: statistics_pb2.DatasetFeatureStatisticsList,
            class_threshold: float, size_threshold: float) -> Tuple[List[Finding], Dict[str, Dict[str, float]]]:
    """Blocking findings for drift beyond the thresholds, and every measured distance."""
    anomalies = tfdv.validate_statistics(
        current, drift_schema(current, class_threshold, size_threshold), previous_statistics=previous)
    measured = {}
    for info in anomalies.drift_skew_info:
        for m in info.drift_measurements:
            name = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type).lower()
            measured[".".join(info.path.step)] = {"measure": name, "value": round(m.value, 6),
                                                  "threshold": m.threshold}
    findings = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        if any(r.type in _DRIFT_REASONS for r in info.reason) and feature in _CHECK_NAMES:
            check = _CHECK_NAMES[feature]
            findings.append(Finding(check, BLOCKING, (
                f"'{feature}' drifted from the previous validated run: {info.description.rstrip('. ')}. "
                f"If the change is intended, raise {_THRESHOLD_KEYS[check]} for this run; "
                "the next run that passes becomes the new reference")))
    return findings, measured
