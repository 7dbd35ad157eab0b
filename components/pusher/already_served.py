"""Is the candidate already the served model? Then a push would only add a duplicate version.

This happens on a cached re-run (pipeline/local/caching.py): the Trainer's earlier model is reused, and the
gate, run again against the served model (which is that same model), blesses it again.
"""
from __future__ import annotations

from typing import Dict, Optional

from components.fs import fs_for, is_remote, local_path
from components.pusher.integrity import file_digests
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
    """{relative path: sha256} of every file under `root` but the push's manifest; empty without a SavedModel."""
    readable = local_path(root) if not is_remote(root) else root
    if not fs_for(root).exists(f"{readable.rstrip('/')}/{SAVED_MODEL_FILE}"):
        return {}
    return file_digests(root)
