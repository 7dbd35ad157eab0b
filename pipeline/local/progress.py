"""Live progress of a local run: one line per component start and end, epoch lines, a heartbeat.

LocalDagRunner runs the components one after another in this process and logs
"Component X is running." / "Component X is finished." (absl, INFO); the Trainer
logs each epoch to the `imgpipe.progress` logger. A logging handler turns those
records into console lines, so no polling and no change to TFX is needed. While a
component runs longer than HEARTBEAT_SECONDS (the Evaluator: ~20 s of TFMA) without
printing an epoch line, a line every HEARTBEAT_SECONDS says it still is.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
from typing import Iterator, Optional, TextIO

from schemas.runtime import PROGRESS_LOGGER

HEARTBEAT_SECONDS = 10.0
_EVENT = re.compile(r"Component (\S+) is (running|finished)\.")


class ProgressLines(logging.Handler):
    def __init__(self, total: int, stream: TextIO, heartbeat: float = HEARTBEAT_SECONDS):
        super().__init__(logging.INFO)
        self.total, self.stream, self.heartbeat = total, stream, heartbeat
        self.index, self.node, self.started = 0, "", 0.0
        self._beat: Optional[threading.Timer] = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == PROGRESS_LOGGER:  # an epoch line is progress enough: the heartbeat waits again
            self._print(f"      {message}")
            if self.node:
                self._cancel()
                self._schedule()
            return
        event = _EVENT.match(message)
        if event and event.group(2) == "running":
            self.index, self.node, self.started = self.index + 1, event.group(1), time.monotonic()
            self._print(f"[{self.index}/{self.total}] {self.node} started")
            self._schedule()
        elif event and event.group(1) == self.node:
            self.finish("")

    def finish(self, outcome: str) -> None:
        """The end line of the running component (`outcome` e.g. "failed"; "" when it finished)."""
        if not self.node:
            return
        self._cancel()
        seconds = time.monotonic() - self.started
        self._print(f"[{self.index}/{self.total}] {self.node} ... {seconds:.1f} s" + (f" {outcome}" if outcome else ""))
        self.node = ""

    def _schedule(self) -> None:
        self._beat = threading.Timer(self.heartbeat, self._still_running, args=(self.node,))
        self._beat.daemon = True
        self._beat.start()

    def _still_running(self, node: str) -> None:
        if node == self.node:
            self._print(f"[{self.index}/{self.total}] {node} ... still running ({time.monotonic() - self.started:.0f} s)")
            self._schedule()

    def _cancel(self) -> None:
        if self._beat is not None:
            self._beat.cancel()

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


@contextlib.contextmanager
def progress_lines(total: int, stream: TextIO = sys.stdout) -> Iterator[ProgressLines]:
    """Show progress lines while the block runs; a component the block fails in is reported as failed.

    The absl level is set through absl's own verbosity: TensorFlow saves and restores
    that verbosity around every SavedModel export, which would undo a plain setLevel.
    """
    from absl import logging as absl_logging
    handler = ProgressLines(total, stream)
    progress = logging.getLogger(PROGRESS_LOGGER)
    absl = logging.getLogger("absl")
    saved_verbosity, saved_level = absl_logging.get_verbosity(), progress.level
    absl_logging.set_verbosity(max(saved_verbosity, absl_logging.INFO))  # absl verbosity: higher is chattier
    progress.setLevel(logging.INFO)
    for logger in (absl, progress):
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        handler.finish("failed")
        for logger in (absl, progress):
            logger.removeHandler(handler)
        absl_logging.set_verbosity(saved_verbosity)
        progress.setLevel(saved_level)


@contextlib.contextmanager
def native_stderr_to(log_path: str) -> Iterator[None]:
    """Send file descriptor 2 to the log file while the block runs.

    TFDV, TFMA and TensorFlow print C++ warnings straight to fd 2 (e.g. that image
    statistics need a split of at least 100 images); Python's logging cannot catch
    them. The console keeps what the CLI prints on stdout.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
