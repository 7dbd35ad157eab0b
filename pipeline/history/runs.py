"""`imgpipe runs`: one line per past run of a local output folder, read from ML Metadata alone.

Every column comes from execution times and artifact properties in the SQLite
store, so listing runs loads neither TFX nor TensorFlow (the run summary, which
re-reads the gate's TFMA output, does): it answers in about a second.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional

from components.evaluator import spec as evaluator
from components.image_example_gen import spec as example_gen
from components.infra_check import spec as infra_check
from components.pusher import spec as pusher
from pipeline.history.report import report_path
from pipeline.history.run_record import RunRecord, artifact_property, list_run_ids, open_store, read_run_record
from pipeline.layout import OutputLayout
from schemas import features

HEADER = ("when", "run", "data (span)", "images", "test acc", "verdict", "pushed", "duration", "report")


def _property(record: RunRecord, node: str, type_name: str, key: str):
    found = record.outputs(node, type_name)
    return artifact_property(found[0], key) if found else None


def verdict(record: RunRecord) -> str:
    """blessed [forced] / not blessed / infra check failed / stopped at <component> (the first that did not complete)."""
    blessed = _property(record, evaluator.NODE_ID, "ModelBlessing", features.BLESSED_PROPERTY)
    if blessed is None:
        return f"stopped at {record.stopped_at}" if record.stopped_at else "not judged"
    if not blessed:
        return "not blessed"
    if _property(record, infra_check.NODE_ID, "InfraBlessing", features.BLESSED_PROPERTY) == 0:
        return "infra check failed"
    forced = _property(record, evaluator.NODE_ID, "ModelBlessing", evaluator.FORCED_PROPERTY)
    return "blessed (forced)" if forced else "blessed"


def _pushed_version(record: RunRecord) -> str:
    if not _property(record, pusher.NODE_ID, "PushedModel", pusher.PUSHED_PROPERTY):
        return "-"
    return _shown(_property(record, pusher.NODE_ID, "PushedModel", pusher.PUSHED_VERSION_PROPERTY))


def _shown(value: Optional[object], fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def run_row(record: RunRecord, pipeline_root: str) -> List[str]:
    gen = record.node(example_gen.NODE_ID)
    data = gen.properties.get("input_base", "?") if gen else "?"
    span = _property(record, example_gen.NODE_ID, "Examples", "span")
    images = _property(record, example_gen.NODE_ID, "Examples", example_gen.NUM_EXAMPLES_PROPERTY)
    accuracy = _property(record, evaluator.NODE_ID, "ModelEvaluation", evaluator.TEST_ACCURACY_PROPERTY)
    report = report_path(pipeline_root, record.run_id)
    seconds = sum(n.seconds for n in record.nodes)
    return [time.strftime("%Y-%m-%d %H:%M", time.localtime(record.started_ms / 1000)), record.run_id,
            f"{data} ({_shown(span)})", _shown(images), _shown(accuracy, "{:.4f}"), verdict(record),
            _pushed_version(record), f"{seconds:.0f} s", report if os.path.isfile(report) else "-"]


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
