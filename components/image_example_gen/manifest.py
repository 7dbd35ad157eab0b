"""The files ImageExampleGen leaves beside its splits, and their one set of readers.

`labels.txt` (the class list: the Trainer exports it as the model's asset), `manifest.json` (counts,
spans, the short-side histogram `data.image_size=auto` reads, the golden folder) and `quarantine.json`
(what was set aside and why). Every step and report that needs them reads them here.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence

from components.fs import read_json
from components.image_example_gen.spec import (
    GOLDEN_KEY,
    LABELS_FILE,
    MANIFEST_FILE,
    QUARANTINE_FILE,
    SHORT_SIDE_HISTOGRAM,
    SPANS_KEY,
)


def labels_path(examples_uri: str) -> str:
    return f"{examples_uri.rstrip('/')}/{LABELS_FILE}"


def quarantine_path(examples_uri: str) -> str:
    return f"{examples_uri.rstrip('/')}/{QUARANTINE_FILE}"


def write_folder_metadata(artifact_uri: str, scan, counts: Dict[str, int], quarantined: Sequence,
                          converted: Sequence[Dict[str, str]], short_sides: Dict[str, int], folders: Sequence = (),
                          golden: Optional[Dict[str, Any]] = None) -> str:
    """Write labels.txt, manifest.json and quarantine.json beside the Split-* folders; return the report's path.

    `scan` is the FolderScan ingested, `folders` its span folders, `quarantined` Quarantined records.
    """
    import tensorflow as tf
    with tf.io.gfile.GFile(labels_path(artifact_uri), "w") as f:
        f.write("".join(name + "\n" for name in scan.class_names))
    manifest = {**scan.manifest(), "class_counts": counts, "num_examples": sum(counts.values()),
                "num_quarantined": len(quarantined), "converted": list(converted),
                SHORT_SIDE_HISTOGRAM: short_sides,
                SPANS_KEY: [f.span for f in folders], "span_folders": [f.name for f in folders],
                **({GOLDEN_KEY: golden} if golden else {})}
    with tf.io.gfile.GFile(os.path.join(artifact_uri, MANIFEST_FILE), "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    report_path = quarantine_path(artifact_uri)
    with tf.io.gfile.GFile(report_path, "w") as f:
        f.write(json.dumps([q.to_dict() for q in quarantined], indent=2) + "\n")
    return report_path


def read_manifest(examples_uri: str) -> Dict[str, Any]:
    """manifest.json of an Examples artifact; {} for Examples ImageExampleGen did not write."""
    return read_json(f"{examples_uri.rstrip('/')}/{MANIFEST_FILE}") or {}


def read_class_list(path: str) -> List[bytes]:
    """One class name per line, as bytes (what serving must answer, byte for byte), from a labels.txt."""
    import tensorflow as tf
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def read_class_names(examples_uri: str) -> List[str]:
    return [name.decode("utf-8") for name in read_class_list(labels_path(examples_uri))]


def read_short_sides(examples_uri: str) -> Dict[str, int]:
    """The {short side: images} histogram; {} for Examples from elsewhere."""
    return read_manifest(examples_uri).get(SHORT_SIDE_HISTOGRAM, {})


def read_quarantine(examples_uri: str) -> List[dict]:
    """The files set aside at ingestion, [] when none (or no such file)."""
    return read_json(quarantine_path(examples_uri)) or []


def require_class_list(examples_uri: str) -> Dict[str, Any]:
    """The manifest, after checking labels.txt and manifest.json exist: a step that needs the class list
    fails here, naming the file, when its Examples were not written by ImageExampleGen."""
    import tensorflow as tf
    for path in (labels_path(examples_uri), f"{examples_uri.rstrip('/')}/{MANIFEST_FILE}"):
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(
                f"{path} is missing: this step needs the Examples artifact written by ImageExampleGen "
                "(components.image_example_gen), which records the class list there.")
    return read_manifest(examples_uri)
