"""Files on a local disk or in a bucket: one definition of "remote", one copy of a tree, JSON in and out.

A path is remote when it names a scheme other than `file://` (`gs://`, `s3://`, `minio://`, ...).
Local paths (`file://` stripped) go through `os` and need no TensorFlow, so the commands that answer
in a second (`imgpipe rollback`, the nothing-new check) stay light; remote ones go through
`tf.io.gfile`, imported only then. Every step and tool that reads or writes outside an artifact
it owns uses these, so "is this local?" has one answer everywhere.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from types import SimpleNamespace
from typing import Any, List, Optional, Tuple

FILE_SCHEME = "file://"


def is_remote(path: str) -> bool:
    """True for `gs://...`, `s3://...` and other schemes; False for plain paths and `file://` ones."""
    return "://" in path and not path.startswith(FILE_SCHEME)


def local_path(path: str) -> str:
    """`file:///x` -> `/x`; any other path unchanged."""
    return path[len(FILE_SCHEME):] if path.startswith(FILE_SCHEME) else path


_LOCAL = SimpleNamespace(
    exists=os.path.exists, isdir=os.path.isdir, listdir=os.listdir, walk=os.walk, remove=os.remove,
    rename=lambda src, dst, overwrite=False: os.rename(src, dst),
    rmtree=lambda path: shutil.rmtree(path, ignore_errors=True),
    makedirs=lambda path: os.makedirs(path, exist_ok=True),
    copy=lambda src, dst, overwrite=False: shutil.copyfile(src, dst))


def fs_for(*paths: str):
    """`os` (as a namespace with gfile's names) when every path is local, else `tf.io.gfile`."""
    if not any(is_remote(p) for p in paths):
        return _LOCAL
    import tensorflow as tf
    return tf.io.gfile


def open_file(path: str, mode: str = "rb"):
    """A file object: `open` for local paths, `tf.io.gfile.GFile` for remote ones."""
    path = local_path(path)
    if not is_remote(path):
        return open(path, mode)
    import tensorflow as tf
    return tf.io.gfile.GFile(path, mode)


def copy_tree(src: str, dst: str, last: str = "", before_last=None) -> None:
    """Copy every file under `src` to `dst`; the top-level file named `last` (if any) is copied last.

    `last` is how a publish stays atomic on object stores: TF Serving cannot load a version folder
    before its `saved_model.pb` exists, so that file goes in when everything else is there.
    `before_last()`, if given, runs just before it (the publish writes the version's manifest there).
    """
    src, dst = local_path(src).rstrip("/"), local_path(dst).rstrip("/")
    fs, final = fs_for(src, dst), None
    for directory, _, files in fs.walk(src):
        rel = directory[len(src):].lstrip("/")
        target = f"{dst}/{rel}" if rel else dst
        fs.makedirs(target)
        for name in files:
            if not rel and name == last:
                final = (f"{directory}/{name}", f"{target}/{name}")
                continue
            fs.copy(f"{directory}/{name}", f"{target}/{name}", overwrite=True)
    if before_last:
        before_last()
    if final:
        fs.copy(*final, overwrite=True)


def read_json(path: str) -> Optional[Any]:
    """The JSON document at `path`, or None when there is no such file."""
    path = local_path(path)
    if not is_remote(path):
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    import tensorflow as tf
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def write_json(path: str, value: Any) -> str:
    """Write `value` as indented JSON (parent folders made); returns the path."""
    path = local_path(path)
    fs_for(path).makedirs(os.path.dirname(path) or ".")
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    if not is_remote(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        import tensorflow as tf
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(text)
    return path


def source_digest(modules) -> str:
    """sha256 over the source files of the named modules, in order (found, not imported): a key part that
    changes when the code that produced a kept result changes."""
    import importlib.util
    sources = b"".join(open(importlib.util.find_spec(m).origin, "rb").read() for m in modules)
    return hashlib.sha256(sources).hexdigest()


def sibling_documents(uri: str, name: str) -> List[Tuple[str, Any]]:
    """(folder, JSON document) of each folder beside `uri` (not `uri` itself) that holds a file `name`: in the
    local runner's layout (`<pipeline root>/<node>/<output>/<execution id>/`), the same output of earlier
    executions of the node. Nothing when the parent does not exist (a Kubeflow run has its own root)."""
    parent = os.path.dirname(uri.rstrip("/"))
    fs = fs_for(parent)
    if not fs.exists(parent):
        return []
    found = []
    for entry in fs.listdir(parent):
        folder = f"{parent}/{entry.rstrip('/')}"
        if folder.rstrip("/") != uri.rstrip("/"):
            document = read_json(f"{folder}/{name}")
            if document:
                found.append((folder, document))
    return found


def folder_fingerprint(root: str) -> str:
    """sha256 over every entry's relative path, size and mtime (ns) under `root`, hidden ones included.

    Entries are lstat-ed, never opened or followed: a broken link or an unreadable file counts by its
    own stat, and what cannot be stat-ed at all counts by its name, so ingestion still gets to
    quarantine it. Not local (gs:// ...): the same through tf.io.gfile, slower.
    """
    digest = hashlib.sha256()
    for rel, size, mtime in sorted(_entries(root)):
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _entries(root: str):
    if is_remote(root):
        yield from _gfile_entries(root)
        return
    root = local_path(root)
    for directory, dirs, files in os.walk(root, onerror=lambda e: None):
        for name in dirs + files:
            path = os.path.join(directory, name)
            try:
                stat = os.lstat(path)
                yield os.path.relpath(path, root), stat.st_size, stat.st_mtime_ns
            except OSError:
                yield os.path.relpath(path, root), -1, -1


def _gfile_entries(root: str):
    import tensorflow as tf
    for directory, _, files in tf.io.gfile.walk(root):
        for name in files:
            path = f"{directory.rstrip('/')}/{name}"
            stat = tf.io.gfile.stat(path)
            yield path[len(root):], stat.length, stat.mtime_nsec
