"""The HTML run report: collect a run's facts (collect.py), render one self-contained file (render.py).

`write_run_report` is the one function both paths use: `imgpipe run` after the
run (so a run stopped by validation gets its report too) and `imgpipe report`.
"""
from __future__ import annotations

import os
import re
from typing import Optional

from schemas.config import Config

REPORTS_DIR = "reports"  # under the pipeline root


def report_path(pipeline_root: str, run_id: str) -> str:
    """`<pipeline root>/reports/<run id>.html`, the id made safe for any file system or bucket."""
    return os.path.join(pipeline_root, REPORTS_DIR, re.sub(r"[^A-Za-z0-9._-]", "-", run_id) + ".html")


def write_report_file(facts: dict, path: str) -> str:
    import tensorflow as tf
    from pipeline.history.report.render import render
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(render(facts))
    return path


def write_run_report(metadata_path: str, pipeline_root: str, pipeline_name: str, run_id: str = "",
                     cfg: Optional[Config] = None, error: str = "") -> str:
    """Write the report of run `run_id` (default: the newest) and return its path."""
    from pipeline.history.report.collect import collect
    from pipeline.history.run_record import open_store, read_run_record
    record = read_run_record(open_store(metadata_path), pipeline_name, run_id)
    if record is None:
        raise LookupError(f"no run {run_id or ''} of pipeline {pipeline_name!r} recorded in {metadata_path}")
    return write_report_file(collect(record, pipeline_root, cfg, error), report_path(pipeline_root, record.run_id))
