"""Where the KFP v2 launcher mirrors object-store artifacts on a task's local disk.

On open-source Kubeflow Pipelines the launcher downloads each input artifact
from `minio://<bucket>/<key>` to `/minio/<bucket>/<key>` (likewise `s3://` ->
`/s3/`, `gs://` -> `/gcs/`) and uploads outputs from there after the task; the
KFP SDK uses the same layout. Plain Python (no TFX import): the container
entrypoint and `imgpipe run-spec` (which plays the launcher) both use it.
"""
import os
from typing import Optional

# Read by pipeline.kubeflow.entrypoint: where the mirrors live ("/" in a KFP pod).
# `imgpipe run-spec --oss` points it at its work dir, which plays the object store.
MIRROR_ROOT_ENV = "IMGPIPE_KFP_MIRROR_ROOT"
MIRRORS = (("minio://", "minio"), ("s3://", "s3"), ("gs://", "gcs"))  # remote scheme -> mirror folder
REMOTE_SCHEMES = tuple(scheme for scheme, _ in MIRRORS)
# tf.io.gfile (TF 2.16, no tensorflow-io) has no filesystem for these, so their mirror is always
# used; gs:// it reads itself, so a gs:// URI is mapped only where a /gcs mirror exists.
UNREADABLE_SCHEMES = ("minio://", "s3://")


def mirror_root() -> str:
    return os.environ.get(MIRROR_ROOT_ENV, "/")


def mirror_path(uri: str, root: str) -> Optional[str]:
    """The mirror path of an object-store URI under `root`, or None for any other URI."""
    for scheme, folder in MIRRORS:
        if uri.startswith(scheme):
            return os.path.join(root, folder, uri[len(scheme):])
    return None


def to_local(uri: str, root: Optional[str] = None) -> str:
    """The launcher's local mirror path of a remote URI, or the URI itself if it needs none."""
    root = mirror_root() if root is None else root
    local = mirror_path(uri, root)
    if local is None:
        return uri
    if uri.startswith(UNREADABLE_SCHEMES) or os.path.isdir(os.path.join(root, "gcs")):
        return local
    return uri


def to_remote(path: str, root: Optional[str] = None) -> str:
    """Inverse of `to_local` for paths inside a mirror; other paths are returned unchanged."""
    root = mirror_root() if root is None else root
    for scheme, folder in MIRRORS:
        prefix = os.path.join(root, folder) + os.sep
        if path.startswith(prefix):
            return scheme + path[len(prefix):]
    return path
