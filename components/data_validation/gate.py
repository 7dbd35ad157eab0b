"""Data gate: stop the run before training when ExampleValidator found anomalies.

ExampleValidator records anomalies but does not fail the run; this component
reads its output and raises, listing every anomaly, so that Transform and the
Trainer (which depend on it) never see invalid data.
"""

from typing import List

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.data_validation.spec import ANOMALIES_FILE


class DataValidationError(RuntimeError):
    """The data does not match the schema; the message lists what to fix."""


def list_anomalies(anomalies_artifact) -> List[str]:
    """One readable line per anomaly: split, feature, and TFDV's description."""
    lines = []
    for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
        path = f"{anomalies_artifact.uri}/Split-{split}/{ANOMALIES_FILE}"
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"[{split}] feature '{feature}': {info.short_description}: {info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"[{split}] dataset: {info.short_description}: {info.description}")
    return lines


@tfx.dsl.components.component
def DataGate(anomalies: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies]) -> None:
    """Fails the run when the data has anomalies; passes silently otherwise."""
    found = list_anomalies(anomalies)
    if found:
        raise DataValidationError(
            "data validation failed, the run stops before training. Anomalies:\n  "
            + "\n  ".join(found)
            + "\nFix the data, or if the change is intended, update the schema "
              "(see docs/data-validation.md, 'Curating the schema').")
