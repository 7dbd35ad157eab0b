"""What a run did, read back from ML Metadata: component wall times, blessing, push.

The orchestrator records every execution and artifact in MLMD; reading the
summary from there (not from in-process state) means it describes what really
happened, whichever runner ran the pipeline.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from schemas import features

SPLIT_ORDER = (features.TRAIN_SPLIT, features.VALIDATION_SPLIT, features.TEST_SPLIT)
_STATES = {v: k.lower() for k, v in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class ComponentTime:
    component: str
    seconds: float
    state: str


@dataclasses.dataclass
class RunSummary:
    run_id: str = ""
    components: List[ComponentTime] = dataclasses.field(default_factory=list)
    blessed: Optional[bool] = None     # what the Pusher acted on (a forced push is blessed)
    accuracy: Optional[float] = None   # on the test split
    baseline_accuracy: Optional[float] = None  # the served model, same test images; None on a first run
    class_accuracy: Dict[str, float] = dataclasses.field(default_factory=dict)  # recall per class on test
    gate_sentence: str = ""            # the paired gate's verdict in words (components/evaluator/paired.py)
    forced: bool = False               # eval.force_bless overrode the gate
    force_reason: str = ""
    split_sizes: Dict[str, int] = dataclasses.field(default_factory=dict)  # images per split
    baseline_source: str = ""
    pushed_path: str = ""
    quarantined: Optional[int] = None  # files ImageExampleGen set aside, listed in quarantine_report
    quarantine_report: str = ""
    data_warnings: List[str] = dataclasses.field(default_factory=list)  # from ImageDataValidator
    image_validation_report: str = ""
    infra_check: Optional[dict] = None  # InfraCheck's report: blessed, problems, load_seconds, latency_ms_*
    image_size: Optional[int] = None   # what Transform resized to, and why (ImageTransform's properties)
    image_size_source: str = ""
    median_short_side: Optional[int] = None
    resize_note: str = ""
    training: Dict[str, object] = dataclasses.field(default_factory=dict)  # the Trainer's training_report.json
    error: str = ""

    @property
    def pipeline_seconds(self) -> float:
        return sum(c.seconds for c in self.components)


def read_run_summary(metadata_path: str, pipeline_name: str) -> RunSummary:
    """The summary of the newest run of `pipeline_name` recorded in the SQLite MLMD at `metadata_path`."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(config)
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    executions = store.get_executions_by_context(pipeline.id) if pipeline else []
    if not executions:
        return RunSummary()
    newest = max(executions, key=lambda e: e.create_time_since_epoch)
    run = next(c for c in store.get_contexts_by_execution(newest.id) if c.type == "pipeline_run")
    summary = RunSummary(run_id=run.name)
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    for execution in sorted(store.get_executions_by_context(run.id),
                            key=lambda e: e.create_time_since_epoch):
        node = _node_id(store, execution, pipeline_name)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        summary.components.append(ComponentTime(node, seconds, _STATES.get(execution.last_known_state, "?")))
        outputs[node] = _output_artifacts(store, execution.id)
    _fill_decision(summary, outputs)
    return summary


def _node_id(store, execution, pipeline_name: str) -> str:
    prefix = pipeline_name + "."
    for context in store.get_contexts_by_execution(execution.id):
        if context.type == "node":
            return context.name[len(prefix):] if context.name.startswith(prefix) else context.name
    return execution.type


def _output_artifacts(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    ids = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id])
           if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    return store.get_artifacts_by_id(ids) if ids else []


def _custom(artifact, key: str):
    value = artifact.custom_properties.get(key)
    if value is None:
        return None
    return value.int_value if value.HasField("int_value") else value.string_value


def _fill_decision(summary: RunSummary, outputs: Dict[str, List]) -> None:
    from components.image_validation.report import image_validation_report, image_validation_warnings
    from components.infra_check.component import read_report as read_infra_report

    for artifact in outputs.get("Evaluator", []):
        _fill_gate(summary, artifact)
    for artifact in outputs.get("ImageDataValidator", []):
        summary.data_warnings = image_validation_warnings(artifact.uri)
        summary.image_validation_report = image_validation_report(artifact.uri)
        summary.split_sizes = _split_sizes(artifact.uri)
    for artifact in outputs.get("ImageExampleGen", []):
        _fill_quarantine(summary, artifact)
    for artifact in outputs.get("Transform", []):
        _fill_image_size(summary, artifact)
    for artifact in outputs.get("Trainer", []):
        summary.training = _read_training_report(artifact.uri) or summary.training
    for artifact in outputs.get("ServedModelBaseline", []):
        summary.baseline_source = _custom(artifact, "baseline_source") or ""
    for artifact in outputs.get("InfraCheck", []):
        summary.infra_check = read_infra_report(artifact.uri)
    for artifact in outputs.get("Pusher", []):
        if _custom(artifact, "pushed"):
            summary.pushed_path = _custom(artifact, "pushed_destination") or ""


def _fill_gate(summary: RunSummary, artifact) -> None:
    """The blessing (with any override on record) or the evaluation (the gate's counts and words)."""
    from components.evaluator import executor
    from components.evaluator.metrics import read_gate  # TFMA import is slow: only when needed

    if _custom(artifact, executor.BLESSED_PROPERTY) is not None:
        summary.blessed = bool(_custom(artifact, executor.BLESSED_PROPERTY))
        summary.forced = bool(_custom(artifact, executor.FORCED_PROPERTY))
        summary.force_reason = _custom(artifact, executor.FORCE_REASON_PROPERTY) or ""
    elif artifact.uri:
        gate = read_gate(artifact.uri)
        if gate is not None:
            summary.accuracy, summary.baseline_accuracy = gate.accuracy, gate.baseline_accuracy
            summary.class_accuracy = gate.class_recall
            summary.gate_sentence = gate.verdict.sentence


def _split_sizes(validation_uri: str) -> Dict[str, int]:
    from components.image_validation.report import image_validation_report, read_report
    if not image_validation_report(validation_uri):
        return {}
    counts = read_report(validation_uri).get("class_counts", {})
    return {split: sum(c.values()) for split, c in counts.items() if split != "all"}


def _fill_quarantine(summary: RunSummary, artifact) -> None:
    from components.image_example_gen.executor import NUM_QUARANTINED_PROPERTY
    from schemas import features

    count = _custom(artifact, NUM_QUARANTINED_PROPERTY)
    if count is not None:
        summary.quarantined = int(count)
        summary.quarantine_report = os.path.join(artifact.uri, features.QUARANTINE_FILE)


def _fill_image_size(summary: RunSummary, artifact) -> None:
    from components.transform import executor as transform

    if _custom(artifact, transform.IMAGE_SIZE_PROPERTY) is not None:
        summary.image_size = int(_custom(artifact, transform.IMAGE_SIZE_PROPERTY))
        summary.image_size_source = _custom(artifact, transform.IMAGE_SIZE_SOURCE_PROPERTY) or ""
        summary.median_short_side = _custom(artifact, transform.MEDIAN_SHORT_SIDE_PROPERTY)
        summary.resize_note = _custom(artifact, transform.RESIZE_NOTE_PROPERTY) or ""


def _read_training_report(uri: str) -> Dict[str, object]:
    """The report run_fn writes in the model_run artifact; {} for the model artifact or a failed run."""
    import json
    from components.trainer.schedule import TRAINING_REPORT_FILE

    path = os.path.join(uri, TRAINING_REPORT_FILE)
    if not uri or not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _size_and_training_lines(summary: RunSummary) -> List[str]:
    lines = []
    if summary.image_size is not None:
        why = (f"data.image_size=auto from the median short side {summary.median_short_side} px"
               if summary.image_size_source == "auto"
               else f"data.image_size; median short side {summary.median_short_side or '?'} px")
        lines.append(f"Image size: {summary.image_size} px ({why})")
    if summary.resize_note:
        lines.append(f"Resize warning: {summary.resize_note}")
    t = summary.training
    if t:
        accuracy = t.get("metrics_at_kept_epoch", {}).get("val_accuracy")
        lines.append(f"Training: kept epoch {t['kept_epoch']} of {t['epochs_run']} ({t['kept_why']}"
                     + (f", validation accuracy {accuracy:.4f}" if accuracy is not None else "")
                     + f"); stopped: {t['stopped_because']}")
    return lines


def format_summary(summary: RunSummary) -> str:
    """Human-readable lines; the last three say blessed or not, test accuracy, and the pushed path."""
    lines = ["", f"Run {summary.run_id or '(none recorded)'}", "Component wall times:"]
    for c in summary.components:
        lines.append(f"  {c.component:<22} {c.seconds:7.1f} s  {c.state}")
    lines.append(f"  {'total':<22} {summary.pipeline_seconds:7.1f} s")
    if summary.quarantined is not None:
        lines.append(f"Quarantined at ingestion: {summary.quarantined} file(s)"
                     + (f", listed in {summary.quarantine_report}" if summary.quarantined else ""))
    if summary.split_sizes:
        lines.append("Splits: " + ", ".join(f"{split} {summary.split_sizes.get(split, 0):,}"
                                            for split in SPLIT_ORDER) + " images")
    if summary.image_validation_report:
        lines.append(f"Image validation: passed with {len(summary.data_warnings)} warning(s); "
                     f"report {summary.image_validation_report}")
    lines.extend(f"Data warning: {warning}" for warning in summary.data_warnings)
    lines.extend(_size_and_training_lines(summary))
    if summary.class_accuracy:
        lines.append("Test recall per class: " + ", ".join(
            f"{name} {acc:.3f}" for name, acc in sorted(summary.class_accuracy.items())))
    if summary.error:
        lines.append(f"Run failed: {summary.error}")
    if summary.gate_sentence:
        source = f" (served: {summary.baseline_source})" if summary.baseline_source else ""
        lines.append(f"Gate: {summary.gate_sentence}{source}")
    if summary.forced:
        lines.append(f"Forced push (eval.force_bless): {summary.force_reason}")
    if summary.infra_check is not None:  # after the gate, as in the pipeline: it runs only on what was blessed
        lines.append(_infra_check_line(summary.infra_check))
    lines.append(_blessing_line(summary))
    lines.append("Test accuracy: " + (f"{summary.accuracy:.4f}" if summary.accuracy is not None else "n/a"))
    lines.append("Pushed model: " + (summary.pushed_path or "none"))
    return "\n".join(lines)


def _blessing_line(summary: RunSummary) -> str:
    if summary.blessed is None:
        return "Blessed: no (the run stopped before the Evaluator judged a model)"
    if summary.forced:
        return "Blessed: yes, forced (eval.force_bless; the gate's verdict is above)"
    return "Blessed: yes" if summary.blessed else "Blessed: NO, nothing pushed (the gate's reasons are above)"


def _infra_check_line(report: dict) -> str:
    """Passed with its figures, or failed with the reason the push was blocked."""
    if not report["blessed"]:
        return "Infra check: FAILED, nothing pushed: " + "; ".join(report["problems"])
    return (f"Infra check: passed (fresh-process load {report['load_seconds']:.2f} s; "
            f"{report['requests']} warmup requests, latency p50 {report['latency_ms_p50']:.1f} ms, "
            f"max {report['latency_ms_max']:.1f} ms)")
