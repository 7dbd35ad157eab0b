"""Is the candidate already the served model? Then a push would only add a duplicate version.

This happens on a cached re-run (pipeline/local/caching.py): the Trainer's earlier model is reused, and the
gate, run again against the served model (which is that same model), blesses it again.
"""
from __future__ import annotations

from typing import Dict, Optional

from components.fs import fs_for, is_remote, local_path
from components.pusher.integrity import file_digests
from components.pusher.publish import SAVED_MODEL_FILE, latest_served_version
from components.pusher.spec import CARD_FILES, CARD_VERSION_DIR

_CARD_PATHS = {f"{CARD_VERSION_DIR}/{name}" for name in CARD_FILES}


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
    return newest if model_digests(model_path) == model_digests(newest) else None


def model_digests(root: str) -> Dict[str, str]:
    """{relative path: sha256} of every file under `root` but what the push added (manifest, model card: the
    card describes a run, so a cached re-run's card differs); empty without a SavedModel."""
    readable = local_path(root) if not is_remote(root) else root
    if not fs_for(root).exists(f"{readable.rstrip('/')}/{SAVED_MODEL_FILE}"):
        return {}
    return {rel: digest for rel, digest in file_digests(root).items() if rel not in _CARD_PATHS}
