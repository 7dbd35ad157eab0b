"""`imgpipe runs`: one line per past run of a local output folder, read from ML Metadata."""
from __future__ import annotations

import os
import time
from typing import List

from pipeline.layout import OutputLayout
from pipeline.report import report_path
from pipeline.run_record import RunRecord, artifact_property, list_run_ids, open_store, read_run_record
from pipeline.summary import RunSummary, summary_of

HEADER = ("when", "run", "data (span)", "images", "test acc", "verdict", "pushed", "duration", "report")


def verdict(record: RunRecord, summary: RunSummary) -> str:
    """blessed / not blessed / stopped at <component> (the first one that did not complete)."""
    if summary.blessed is not None:
        return "blessed" if summary.blessed else "not blessed"
    return f"stopped at {record.stopped_at}" if record.stopped_at else "not judged"


def run_row(record: RunRecord, pipeline_root: str) -> List[str]:
    summary = summary_of(record)
    examples = record.outputs("ImageExampleGen", "Examples")
    gen = record.node("ImageExampleGen")
    data = gen.properties.get("input_base", "?") if gen else "?"
    span = artifact_property(examples[0], "span") if examples else None
    images = artifact_property(examples[0], "num_examples") if examples else None
    report = report_path(pipeline_root, record.run_id)
    return [time.strftime("%Y-%m-%d %H:%M", time.localtime(record.started_ms / 1000)), record.run_id,
            f"{data} ({span if span is not None else '-'})", str(images if images is not None else "-"),
            f"{summary.accuracy:.4f}" if summary.accuracy is not None else "-", verdict(record, summary),
            os.path.basename(summary.pushed_path.rstrip("/")) or "-", f"{summary.pipeline_seconds:.0f} s",
            report if os.path.isfile(report) else "-"]


def run_table(output_dir: str, pipeline_name: str) -> List[str]:
    """Aligned lines, oldest run first, with a header; [] when the folder has no recorded run."""
    layout = OutputLayout(os.path.abspath(output_dir))
    if not os.path.isfile(layout.metadata_path):
        return []
    store = open_store(layout.metadata_path)
    rows = [run_row(read_run_record(store, pipeline_name, run_id), layout.pipeline_root)
            for run_id in list_run_ids(store, pipeline_name)]
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows + [list(HEADER)]) for i in range(len(HEADER))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [list(HEADER)] + rows]
