"""What a run did, read back from ML Metadata: component wall times, blessing, push.

The orchestrator records every execution and artifact in MLMD; reading the
summary from there (not from in-process state) means it describes what really
happened, whichever runner ran the pipeline.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from pipeline.run_record import RunRecord, open_store, read_run_record, value_of


@dataclasses.dataclass
class ComponentTime:
    component: str
    seconds: float
    state: str


@dataclasses.dataclass
class RunSummary:
    run_id: str = ""
    components: List[ComponentTime] = dataclasses.field(default_factory=list)
    blessed: Optional[bool] = None
    accuracy: Optional[float] = None
    baseline_accuracy: Optional[float] = None
    class_accuracy: Dict[str, float] = dataclasses.field(default_factory=dict)
    baseline_source: str = ""
    pushed_path: str = ""
    quarantined: Optional[int] = None  # files ImageExampleGen set aside, listed in quarantine_report
    quarantine_report: str = ""
    data_warnings: List[str] = dataclasses.field(default_factory=list)  # from ImageDataValidator
    image_validation_report: str = ""
    error: str = ""
    training_logdir: str = ""  # the Trainer's ModelRun artifact: TensorBoard logs and history.json
    report_path: str = ""      # the run's HTML report, once written (pipeline/report)
    report_error: str = ""     # why the report could not be written

    @property
    def pipeline_seconds(self) -> float:
        return sum(c.seconds for c in self.components)


def read_run_summary(metadata_path: str, pipeline_name: str, run_id: str = "") -> RunSummary:
    """The summary of run `run_id` (default: the newest) of `pipeline_name` in the SQLite MLMD at `metadata_path`."""
    return summary_of(read_run_record(open_store(metadata_path), pipeline_name, run_id))


def summary_of(record: Optional[RunRecord]) -> RunSummary:
    if record is None:
        return RunSummary()
    summary = RunSummary(run_id=record.run_id)
    summary.components = [ComponentTime(n.node, n.seconds, n.state) for n in record.nodes]
    _fill_decision(summary, {n.node: n.outputs for n in record.nodes})
    summary.training_logdir = next((a.uri for a in record.outputs("Trainer", "ModelRun")), "")
    return summary


def _custom(artifact, key: str):
    """A custom property's value, whatever kind the orchestrator stored it as (KFP passes numbers as doubles)."""
    value = artifact.custom_properties.get(key)
    return None if value is None else value_of(value)


def _fill_decision(summary: RunSummary, outputs: Dict[str, List]) -> None:
    from components.evaluator.metrics import read_accuracy  # TFMA import is slow: only when needed
    from components.image_validation.report import image_validation_report, image_validation_warnings

    for artifact in outputs.get("Evaluator", []):
        if _custom(artifact, "blessed") is not None:
            summary.blessed = bool(_custom(artifact, "blessed"))
        elif artifact.uri:
            accuracy = read_accuracy(artifact.uri)
            summary.accuracy = accuracy.candidate
            summary.baseline_accuracy = accuracy.baseline
            summary.class_accuracy = accuracy.per_class
    for artifact in outputs.get("ImageDataValidator", []):
        summary.data_warnings = image_validation_warnings(artifact.uri)
        summary.image_validation_report = image_validation_report(artifact.uri)
    for artifact in outputs.get("ImageExampleGen", []):
        _fill_quarantine(summary, artifact)
    for artifact in outputs.get("ServedModelBaseline", []):
        summary.baseline_source = _custom(artifact, "baseline_source") or ""
    for artifact in outputs.get("Pusher", []):
        if _custom(artifact, "pushed"):
            summary.pushed_path = _custom(artifact, "pushed_destination") or ""


def _fill_quarantine(summary: RunSummary, artifact) -> None:
    from schemas import features
    from components.image_example_gen.executor import NUM_QUARANTINED_PROPERTY

    count = _custom(artifact, NUM_QUARANTINED_PROPERTY)
    if isinstance(count, (int, float)):
        summary.quarantined = int(count)
        summary.quarantine_report = os.path.join(artifact.uri, features.QUARANTINE_FILE)


def format_summary(summary: RunSummary, min_accuracy: float, max_drop: float) -> str:
    """Human-readable lines; the last three say blessed or not, accuracy, and the pushed path."""
    lines = ["", f"Run {summary.run_id or '(none recorded)'}", "Component wall times:"]
    for c in summary.components:
        lines.append(f"  {c.component:<22} {c.seconds:7.1f} s  {c.state}")
    lines.append(f"  {'total':<22} {summary.pipeline_seconds:7.1f} s")
    if summary.quarantined is not None:
        lines.append(f"Quarantined at ingestion: {summary.quarantined} file(s)"
                     + (f", listed in {summary.quarantine_report}" if summary.quarantined else ""))
    if summary.image_validation_report:
        lines.append(f"Image validation: passed with {len(summary.data_warnings)} warning(s); "
                     f"report {summary.image_validation_report}")
    lines.extend(f"Data warning: {warning}" for warning in summary.data_warnings)
    if summary.class_accuracy:
        lines.append("Eval accuracy per class: " + ", ".join(
            f"{name} {acc:.3f}" for name, acc in sorted(summary.class_accuracy.items())))
    if summary.error:
        lines.append(f"Run failed: {summary.error}")
    if summary.training_logdir:
        lines.append(f"TensorBoard: tensorboard --logdir {summary.training_logdir}")
    if summary.report_path or summary.report_error:
        lines.append(f"Report: {summary.report_path or 'not written: ' + summary.report_error}")
    lines.append(_blessing_line(summary, min_accuracy, max_drop))
    lines.append("Eval accuracy: " + (f"{summary.accuracy:.4f}" if summary.accuracy is not None else "n/a"))
    lines.append("Pushed model: " + (summary.pushed_path or "none"))
    return "\n".join(lines)


def _blessing_line(summary: RunSummary, min_accuracy: float, max_drop: float) -> str:
    if summary.blessed is None:
        return "Blessed: no (the run stopped before the Evaluator judged a model)"
    baseline = ("no served model yet, floor only" if summary.baseline_accuracy is None else
                f"served model {summary.baseline_source} scored {summary.baseline_accuracy:.4f}, "
                f"allowed drop {max_drop}")
    verdict = "yes" if summary.blessed else "NO, nothing pushed"
    return f"Blessed: {verdict} (bar: accuracy >= {min_accuracy}; {baseline})"
