"""The HTML run report: collect a run's facts (collect.py), render one self-contained file (render.py).

Each run's report is rendered once. A run that reaches its last node has it rendered inside the
pipeline by RunReport (component.py); `publish_run_report` copies that page to
`<pipeline root>/reports/<run id>.html`, filling in what only ML Metadata knows (run id, start,
component times). A run stopped earlier has it rendered from ML Metadata instead (`write_run_report`,
also what `imgpipe report --rebuild` does).
"""
from __future__ import annotations

import os
import re
from typing import Optional

from pipeline.history.report.spec import NODE_ID, REPORT_FILE, REPORT_TYPE, REPORTS_DIR
from schemas.config import Config


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
    """Render the report of run `run_id` (default: the newest) from ML Metadata; return its path."""
    from pipeline.history.report.collect import collect
    record = _read_record(metadata_path, pipeline_name, run_id)
    return write_report_file(collect(record, pipeline_root, cfg, error), report_path(pipeline_root, record.run_id))


def publish_run_report(metadata_path: str, pipeline_root: str, pipeline_name: str, run_id: str = "",
                       cfg: Optional[Config] = None, error: str = "") -> str:
    """The report of a local run that just ended, rendered once: RunReport's page when that node ran in
    this run (completed, not reused from an earlier run), else rendered from ML Metadata."""
    import tensorflow as tf
    from pipeline.history.report.collect import started_text
    from pipeline.history.report.render import finish_report
    record = _read_record(metadata_path, pipeline_name, run_id)
    node = record.node(NODE_ID)
    # By type: ML Metadata lists the node's two outputs (the page, the digest) in no fixed order.
    pages = record.outputs(NODE_ID, REPORT_TYPE) if node and node.state == "complete" else []
    page = f"{pages[0].uri}/{REPORT_FILE}" if pages else ""
    if error or not page or not tf.io.gfile.exists(page):
        return write_run_report(metadata_path, pipeline_root, pipeline_name, record.run_id, cfg, error)
    with tf.io.gfile.GFile(page) as f:
        html = finish_report(f.read(), record.run_id, started_text(record),
                             [(n.node, n.seconds, n.state) for n in record.nodes])
    path = report_path(pipeline_root, record.run_id)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(html)
    return path


def _read_record(metadata_path: str, pipeline_name: str, run_id: str):
    from pipeline.history.run_record import open_store, read_run_record
    record = read_run_record(open_store(metadata_path), pipeline_name, run_id)
    if record is None:
        raise LookupError(f"no run {run_id or ''} of pipeline {pipeline_name!r} recorded in {metadata_path}")
    return record
