"""Is the candidate already the served model? Then a push would only add a duplicate version.

This happens on a cached re-run (pipeline/local/caching.py): the Trainer's earlier model is reused, and the
gate, run again against the served model (which is that same model), blesses it again.
"""
from __future__ import annotations

import hashlib
from typing import Dict, Optional

from components.pusher.publish import SAVED_MODEL_FILE, latest_served_version


def newest_identical_version(model_path: str, model_dir: str) -> Optional[str]:
    """`<model_dir>/<newest version>` when it holds exactly the files of `model_path`, byte for byte; else None.

    Only the newest version counts: it is what TF Serving serves. A candidate equal to an older
    version (after a rollback) is a real change and gets pushed. "Newest" is the newest version holding
    a SavedModel, the one ServedModelBaseline gave the gate, so a left-over empty version folder does
    not make the candidate look new.
    """
    newest = latest_served_version(model_dir)
    if newest is None:
        return None
    return newest if _digests(model_path) == _digests(newest) else None


def _digests(root: str) -> Dict[str, str]:
    """{relative path: sha256} of every file under `root`; empty when it holds no SavedModel."""
    import tensorflow as tf
    if not tf.io.gfile.exists(f"{root.rstrip('/')}/{SAVED_MODEL_FILE}"):
        return {}
    found = {}
    for directory, _, files in tf.io.gfile.walk(root):
        for name in files:
            path = f"{directory.rstrip('/')}/{name}"
            with tf.io.gfile.GFile(path, "rb") as f:
                found[path[len(root.rstrip('/')) + 1:]] = hashlib.sha256(f.read()).hexdigest()
    return found
