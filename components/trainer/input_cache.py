"""Where the Trainer keeps the decoded images between epochs: in memory, in a file, or nowhere.

The Trainer reads the raw examples and decodes them through the Transform graph (train.py). Decoding
and resizing is the input pipeline's costliest stage, so it happens once per run, not once per epoch:

    decoded images fit train.cache_max_mb        -> in memory (tf.data's cache())
    else, with room under train.disk_cache_dir    -> in a file there, written during the first epoch and
                                                     read by every later one (and by every Tuner trial);
                                                     removed when training ends
    else (no room, or disk_cache_dir=none)        -> decoded every epoch, as before 2026-12-07

The file holds the Transform's float32 images exactly (no re-encoding): what the network trains on is
still what the serving signatures compute. On 2 cores a later epoch reads it at several times the JPEG
decoder's rate (docs/performance.md#the-input-pipeline-decoded-once-per-run).
"""
from __future__ import annotations

import dataclasses
import logging as py_logging
import os
import shutil
import tempfile
import weakref
from typing import Optional

from absl import logging

from schemas.config import AUTO, TrainConfig
from schemas.runtime import PROGRESS_LOGGER

NONE = "none"                   # train.disk_cache_dir value: no file cache
IN_MEMORY = ""                  # tf.data.Dataset.cache(filename="") caches in memory
DISK_MARGIN_BYTES = 1 << 30     # left free on the cache's disk for everything else
PROGRESS_LOG = py_logging.getLogger(PROGRESS_LOGGER)


@dataclasses.dataclass
class InputCache:
    """The `filename` argument of Dataset.cache() for each split (None: not cached), and why."""
    kind: str                      # "memory", "disk" or "none"
    train: Optional[str]
    validation: Optional[str]
    reason: str
    folder: Optional[str] = None   # the disk cache's own folder, removed by release()

    def __post_init__(self):
        self._remove = weakref.finalize(self, shutil.rmtree, self.folder, True) if self.folder else None

    def release(self) -> None:
        """Remove the disk cache's files (also done when this object is collected, or at exit)."""
        if self._remove is not None:
            self._remove()


def decoded_bytes(num_examples: int, image_size: int) -> int:
    """What the decoded float32 RGB images of `num_examples` take: side x side x 3 x 4 bytes each."""
    return num_examples * image_size * image_size * 3 * 4


def plan_cache(num_examples: int, image_size: int, cfg: TrainConfig) -> InputCache:
    """Memory when the decoded images fit train.cache_max_mb, else a file under train.disk_cache_dir when
    its disk has room for them plus DISK_MARGIN_BYTES, else no cache. Logs the choice."""
    need = decoded_bytes(num_examples, image_size)
    mb = need / 2**20
    if mb <= cfg.cache_max_mb:
        return _told(InputCache("memory", IN_MEMORY, IN_MEMORY,
                                f"decoded images (~{mb:,.0f} MB) cached in memory (train.cache_max_mb={cfg.cache_max_mb})"),
                     quiet=True)
    above = f"decoded images (~{mb:,.0f} MB) above train.cache_max_mb={cfg.cache_max_mb}"
    if cfg.disk_cache_dir == NONE:
        return _told(InputCache("none", None, None, f"{above}; decoded every epoch (train.disk_cache_dir=none)"))
    base = tempfile.gettempdir() if cfg.disk_cache_dir == AUTO else cfg.disk_cache_dir
    try:
        os.makedirs(base, exist_ok=True)
        free = shutil.disk_usage(base).free
    except OSError as error:
        raise ValueError(f"train.disk_cache_dir={cfg.disk_cache_dir!r}: cannot use {base} for the input cache "
                         f"({error}); set it to a writable local folder, or to 'none' to decode every epoch") from error
    if need + DISK_MARGIN_BYTES > free:
        return _told(InputCache("none", None, None,
                                f"{above}; {base} has {free / 2**20:,.0f} MB free, too little to cache them on disk: "
                                "decoded every epoch (point train.disk_cache_dir at a folder with room)"))
    folder = tempfile.mkdtemp(prefix="imgpipe-input-cache-", dir=base)
    return _told(InputCache("disk", os.path.join(folder, "train"), os.path.join(folder, "validation"),
                            f"{above}; cached in a file under {folder} (decoded once, read by every later epoch)",
                            folder))


def _told(cache: InputCache, quiet: bool = False) -> InputCache:
    logging.info("Input: %s", cache.reason)
    if not quiet:  # what a user with a large data set wants to see on the console
        PROGRESS_LOG.info("Input: %s", cache.reason)
    return cache
