"""The previous validated run, kept at a stable path instead of found by a Resolver.

TFX would normally find "the previous run's output" with a Resolver node, which
open-source Kubeflow Pipelines v2 cannot run. Instead, every run whose data
passes validation copies its report and its train-split statistics to a fixed
directory (by default `<pipeline_root>/ImageDataValidator/reference/<pipeline_name>/`,
or `validation.reference_dir`), and the next run reads them from there. It is
a plain `tf.io.gfile` path, so it works the same locally and on `gs://`.

A run that is stopped by a blocking anomaly does not replace the reference:
drift is always measured against data that was accepted.

The classes a run is held to come from here too: the curated schema's
`label_name` domain when there is one, else the reference run's classes.
"""
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_data_validation as tfdv

from components.data_validation.spec import SCHEMA_FILE
from components.image_validation.spec import NODE_ID, REFERENCE_STATS_FILE, REPORT_FILE
from schemas import features


class ReferenceDirError(ValueError):
    """The reference directory cannot be opened from here; the message says which key to set."""


def default_reference_dir(pipeline_root: str, pipeline_name: str) -> str:
    return f"{pipeline_root.rstrip('/')}/{NODE_ID}/reference/{pipeline_name}"


def check_reachable(reference_dir: str) -> None:
    """Fail clearly when tf.io.gfile has no filesystem for the directory's scheme.

    On Kubeflow with a `minio://` or `s3://` pipeline root, the KFP launcher mirrors
    artifacts only; this directory is not an artifact, so it must be `gs://` or a
    path on a volume mounted into the pods.
    """
    try:
        tf.io.gfile.exists(reference_dir)
    except tf.errors.UnimplementedError:
        raise ReferenceDirError(
            f"validation reference directory {reference_dir}: tf.io.gfile cannot open "
            f"{reference_dir.split('://')[0]}:// here; set validation.reference_dir to a gs:// path or a "
            "path on a volume mounted into the pods (docs/data-validation.md, 'Image-aware validation')") from None


def read_reference(reference_dir: str) -> Optional[Dict[str, Any]]:
    """The reference run's report, or None before the first validated run."""
    path = f"{reference_dir}/{REPORT_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def reference_statistics_path(reference_dir: str) -> Optional[str]:
    path = f"{reference_dir}/{REFERENCE_STATS_FILE}"
    return path if tf.io.gfile.exists(path) else None


def write_reference(reference_dir: str, report_path: str, train_stats_path: Optional[str]) -> None:
    """Replace the reference with this run's report and statistics (statistics first, report last:
    the report's presence is what marks a complete reference)."""
    tf.io.gfile.makedirs(reference_dir)
    stats_target = f"{reference_dir}/{REFERENCE_STATS_FILE}"
    if train_stats_path:
        tf.io.gfile.copy(train_stats_path, stats_target, overwrite=True)
    elif tf.io.gfile.exists(stats_target):
        tf.io.gfile.remove(stats_target)
    tf.io.gfile.copy(report_path, f"{reference_dir}/{os.path.basename(report_path)}", overwrite=True)


def expected_classes(schema, reference: Optional[dict], reference_dir: str) -> Tuple[Optional[List[str]], str]:
    """The class list to hold the data to: the curated schema's label_name domain, else the reference run's."""
    if schema is not None:
        proto = tfdv.load_schema_text(f"{schema.uri}/{SCHEMA_FILE}")
        try:
            classes = list(tfdv.get_domain(proto, features.LABEL_NAME_KEY).value)
        except ValueError:  # no label_name feature or no string domain for it: nothing curated to hold to
            classes = []
        if classes:
            return classes, f"the curated schema ({features.LABEL_NAME_KEY} domain)"
    if reference is not None:
        return reference["classes"], f"the previous validated run ({reference_dir})"
    return None, ""
