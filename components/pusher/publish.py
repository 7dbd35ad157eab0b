"""Publishing SavedModel versions where TF Serving watches: atomic, pruned, reversible.

TF Serving polls `<model_dir>/` and loads the highest numeric sub-folder. Every
name this module writes besides finished versions is non-numeric, so TF Serving
never sees it:

- `.staging-<version>-<pid>`: a version being copied. On a local filesystem the
  copy finishes there, its manifest (integrity.py) is written last, and one
  `os.rename` makes `<version>` appear complete. A
  push killed mid-copy leaves only a staging folder, removed by the next push.
- On object stores (gs://, s3://: no rename, a "rename" is a copy) the files go
  straight into `<version>/`, the manifest next to last, `saved_model.pb` LAST. A SavedModel cannot be
  loaded without `saved_model.pb`, and when it exists every variable, asset and
  the warmup file already do: a reader sees either an unloadable folder (TF
  Serving reports it and retries) or a complete version, never a loadable
  version with missing files. A half-copied folder is replaced by the next push.
- `.rolled-back-<version>`: a version hidden by `imgpipe rollback`, kept whole.
- `.pruned-<version>`: a version being deleted by retention; renamed first so a
  half-deleted folder is never numeric.

Pure file operations through `os` (local paths) or `tf.io.gfile` (other schemes,
imported only then): no TFX, and `imgpipe rollback` answers without loading TensorFlow.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Dict, List, Optional

from components.fs import copy_tree, fs_for, is_remote, local_path, read_json
from components.pusher.integrity import load_private_key, manifest_files, write_files
from components.trainer.spec import MODEL_FACTS_FILE

SAVED_MODEL_FILE = "saved_model.pb"
STAGING_PREFIX = ".staging-"
ROLLED_BACK_PREFIX = ".rolled-back-"
PRUNED_PREFIX = ".pruned-"


class PublishError(ValueError):
    """A version folder cannot be published or moved; the message names it and what to do."""


def _listdir(model_dir: str) -> List[str]:
    fs = fs_for(model_dir)
    model_dir = local_path(model_dir) if not is_remote(model_dir) else model_dir
    if not fs.isdir(model_dir):
        return []
    return [name.rstrip("/") for name in fs.listdir(model_dir)]


def served_versions(model_dir: str) -> List[int]:
    """Numeric version folders (what TF Serving sees), oldest first."""
    return sorted(int(name) for name in _listdir(model_dir) if name.isdigit())


def latest_served_version(model_dir: str) -> Optional[str]:
    """The newest `<model_dir>/<version>` (TF Serving layout) holding a SavedModel, or None.

    Only numeric folders count, as for TF Serving: after `imgpipe rollback` this is
    the version rolled back to, not the hidden newer ones. Local paths need no TensorFlow.
    """
    base = model_dir.rstrip("/")
    readable = local_path(base) if not is_remote(base) else base
    fs = fs_for(base)
    complete = [v for v in served_versions(model_dir) if fs.exists(f"{readable}/{v}/{SAVED_MODEL_FILE}")]
    return f"{base}/{complete[-1]}" if complete else None


def read_model_facts(model_path: str) -> dict:
    """What the Trainer recorded about a model (`assets.extra/imgpipe.json`: classes, spans, ...); {} if nothing.

    The one reader of that file for served models: local paths without TensorFlow (the nothing-new
    check must answer in a second), gs:// and other schemes through tf.io.gfile.
    """
    return read_json(f"{model_path.rstrip('/')}/{MODEL_FACTS_FILE}") or {}


def rolled_back_versions(model_dir: str) -> List[int]:
    """Versions hidden by a rollback, oldest first."""
    names = [name[len(ROLLED_BACK_PREFIX):] for name in _listdir(model_dir) if name.startswith(ROLLED_BACK_PREFIX)]
    return sorted(int(name) for name in names if name.isdigit())


def next_version(model_dir: str, now: Optional[float] = None) -> int:
    """A Unix-time version, always above every existing one (visible or rolled back).

    TF Serving serves the highest number, so a new push must outrank a version
    pushed within the same second or by a machine whose clock runs ahead.
    """
    existing = served_versions(model_dir) + rolled_back_versions(model_dir)
    return max([int(now if now is not None else time.time())] + [v + 1 for v in existing])


def remove_leftovers(model_dir: str, keep: str = "") -> List[str]:
    """Delete staging and half-pruned folders left by killed pushes; returns their names."""
    removed = []
    for name in _listdir(model_dir):
        if name != keep and name.startswith((STAGING_PREFIX, PRUNED_PREFIX)):
            _rmtree(f"{model_dir}/{name}")
            removed.append(name)
    return removed


def publish(source: str, model_dir: str, version: int, signing_key: str = "",
            added: Optional[Dict[str, bytes]] = None, last: str = SAVED_MODEL_FILE) -> str:
    """Copy the SavedModel at `source` to `<model_dir>/<version>` so it appears complete or not at all,
    with `added` ({path in the version: content}: the model card) and the manifest of all its files
    (signed with the key file `signing_key`, if given): of the staged copy on a local filesystem, of
    `source` and `added` on object stores (reading the copy back would double the transfer).
    `last` is the file whose presence means "complete" (copied last on object stores): `saved_model.pb`
    for a SavedModel, another for another kind of folder (the TFLite models, components/on_device/)."""
    added = added or {}
    if not is_remote(source) and not is_remote(model_dir):
        source, model_dir = local_path(source), local_path(model_dir)
    fs = fs_for(source, model_dir)
    if not fs.exists(f"{source}/{last}"):
        raise PublishError(f"no {last} in {source}: nothing to publish "
                           "(is it the Trainer's Format-Serving folder?)")
    final = f"{model_dir.rstrip('/')}/{version}"
    if fs.exists(final):
        raise PublishError(f"version folder {final} already exists; it is never overwritten")
    key = load_private_key(signing_key) if signing_key else None  # an unusable key stops the push here
    fs.makedirs(model_dir)
    if not is_remote(model_dir):
        staging = f"{model_dir.rstrip('/')}/{STAGING_PREFIX}{version}-{os.getpid()}"
        remove_leftovers(model_dir, keep=os.path.basename(staging))
        copy_tree(source, staging, last=last)
        write_files(staging, added)
        write_files(staging, manifest_files(staging, key))
        os.rename(staging, final)
    else:
        remove_leftovers(model_dir)
        _remove_incomplete_versions(model_dir, last)
        copy_tree(source, final, last=last,
                  before_last=lambda: write_files(final, {**added, **manifest_files(source, key, added)}))
    return final


def _remove_incomplete_versions(model_dir: str, last: str = SAVED_MODEL_FILE) -> None:
    """Object stores: a numeric folder without its `last` file (saved_model.pb) is a killed copy; remove it."""
    for version in served_versions(model_dir):
        path = f"{model_dir.rstrip('/')}/{version}"
        if not fs_for(path).exists(f"{path}/{last}"):
            _rmtree(path)


def prune(model_dir: str, keep_versions: int, last: str = SAVED_MODEL_FILE) -> List[int]:
    """Delete the oldest served versions beyond `keep_versions`; the newest is always kept.

    Rolled-back versions are not counted or pruned: they are kept for `--restore`. On object stores
    `last` (publish's) goes first, so a half-deleted version reads as incomplete.
    """
    keep_versions = max(1, keep_versions)
    versions = served_versions(model_dir)
    doomed = versions[:-keep_versions]
    for version in doomed:
        path = f"{model_dir.rstrip('/')}/{version}"
        gone = f"{model_dir.rstrip('/')}/{PRUNED_PREFIX}{version}"
        if not is_remote(model_dir):
            os.rename(local_path(path), local_path(gone))
            path = gone
        else:  # no rename: unloadable first, then the rest
            fs_for(path).remove(f"{path}/{last}")
        _rmtree(path)
    return doomed


def _rmtree(path: str) -> None:
    if not is_remote(path):
        shutil.rmtree(local_path(path), ignore_errors=True)
    elif fs_for(path).exists(path):
        fs_for(path).rmtree(path)
