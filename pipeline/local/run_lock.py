"""One `imgpipe run` at a time per output folder.

Two runs on one output would share one MLMD SQLite file, one pipeline root and
one serving dir. The lock is `fcntl.flock` on `<output>/.imgpipe.lock`: the
kernel drops it when the holding process exits or is killed, so a killed run
never leaves the folder locked; the pid and start time written into the file
only serve the message the second run prints.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import Iterator

LOCK_FILE = ".imgpipe.lock"


class RunLockedError(RuntimeError):
    """Another run holds the output folder."""


@contextlib.contextmanager
def run_lock(output_dir: str) -> Iterator[str]:
    """Hold the output folder's lock for the block; RunLockedError at once if another process holds it."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
            raise RunLockedError(f"another imgpipe run is using {os.path.abspath(output_dir)} ({holder}); "
                                 "wait for it to finish or use another --output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
