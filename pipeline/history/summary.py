"""What a run did, read back from ML Metadata: component wall times, blessing, push.

The orchestrator records every execution and artifact in MLMD; reading the
summary from there (not from in-process state) means it describes what really
happened, whichever runner ran the pipeline.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional

from components.baseline import spec as baseline
from components.evaluator import spec as evaluator
from components.image_example_gen import spec as example_gen
from components.image_validation import spec as image_validation
from components.infra_check import spec as infra_check
from components.new_data import spec as new_data
from components.new_data.check import NOTHING_TO_DO
from components.on_device import spec as on_device
from components.on_device.report import read_report as read_on_device_report, summary_line as on_device_line
from components.pusher import spec as pusher
from components.trainer import spec as trainer
from components.transform import spec as transform
from components.tuner import spec as tuner
from pipeline.history.run_record import RunRecord, open_store, read_run_record, value_of
from schemas import features

SPLIT_ORDER = (features.TRAIN_SPLIT, features.VALIDATION_SPLIT, features.TEST_SPLIT)


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
    verdict_reused_from: str = ""      # the run whose TFMA verdict was reused (components/evaluator/reuse.py)
    # With data.golden_dir: the golden images alone (a slice of the gate's images): {accuracy, images, served}
    golden: Dict[str, object] = dataclasses.field(default_factory=dict)
    forced: bool = False               # eval.force_bless overrode the gate
    force_reason: str = ""
    split_sizes: Dict[str, int] = dataclasses.field(default_factory=dict)  # images per split
    baseline_source: str = ""
    pushed_path: str = ""
    data_spans: str = ""               # "span 3 (round-3)": what ImageExampleGen read, with data.span_pattern
    already_served: str = ""           # not pushed: the candidate is this served version already (cached re-run)
    nothing_new: str = ""              # NewDataCheck's stop message: every later component was skipped
    quarantined: Optional[int] = None  # files ImageExampleGen set aside, listed in quarantine_report
    quarantine_report: str = ""
    data_warnings: List[str] = dataclasses.field(default_factory=list)  # from ImageDataValidator
    small_data: str = ""               # "Small data: ..." when a class has too few training images (trainer.small_data)
    image_validation_report: str = ""
    infra_check: Optional[dict] = None  # InfraCheck's report: blessed, problems, load_seconds, latency_ms_*
    on_device: Optional[dict] = None   # OnDeviceModel's report: per TFLite variant size, agreement, accuracy; pushed
    image_size: Optional[int] = None   # what Transform resized to, and why (ImageTransform's properties)
    image_size_source: str = ""
    median_short_side: Optional[int] = None
    resize_note: str = ""
    training: Dict[str, object] = dataclasses.field(default_factory=dict)  # the Trainer's record (record.py)
    tuning: str = ""                   # the Tuner's `Tuning: ...` line, with tune.trials > 0
    error: str = ""
    training_logdir: str = ""  # the Trainer's ModelRun artifact: TensorBoard logs and training.json
    report_path: str = ""      # the run's HTML report, once written (pipeline/history/report/)
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
    summary.small_data = _small_data(record)
    summary.tuning = _tuning(record)
    summary.training_logdir = next((a.uri for a in record.outputs(trainer.NODE_ID, "ModelRun")), "")
    return summary


def _custom(artifact, key: str):
    """A custom property's value, whatever kind the orchestrator stored it as (KFP passes numbers as doubles)."""
    value = artifact.custom_properties.get(key)
    return None if value is None else value_of(value)


def _fill_decision(summary: RunSummary, outputs: Dict[str, List]) -> None:
    from components.image_validation.report import image_validation_report, image_validation_warnings
    from components.infra_check.component import read_report as read_infra_report

    from components.trainer.record import read_training_record

    for artifact in outputs.get(evaluator.NODE_ID, []):
        _fill_gate(summary, artifact)
    for artifact in outputs.get(image_validation.NODE_ID, []):
        summary.data_warnings = image_validation_warnings(artifact.uri)
        summary.image_validation_report = image_validation_report(artifact.uri)
        summary.split_sizes = _split_sizes(artifact.uri)
    for artifact in outputs.get(new_data.NODE_ID, []):
        summary.nothing_new = _custom(artifact, new_data.MESSAGE_PROPERTY) or ""
    for artifact in outputs.get(example_gen.NODE_ID, []):
        _fill_quarantine(summary, artifact)
        summary.data_spans = _spans_read(artifact)
    for artifact in outputs.get(transform.NODE_ID, []):
        _fill_image_size(summary, artifact)
    for artifact in outputs.get(trainer.NODE_ID, []):
        summary.training = read_training_record(artifact.uri) or summary.training
    for artifact in outputs.get(baseline.NODE_ID, []):
        summary.baseline_source = _custom(artifact, baseline.SOURCE_PROPERTY) or ""
    for artifact in outputs.get(infra_check.NODE_ID, []):
        summary.infra_check = read_infra_report(artifact.uri)
    for artifact in outputs.get(on_device.NODE_ID, []):
        summary.on_device = read_on_device_report(artifact.uri)
    for artifact in outputs.get(pusher.NODE_ID, []):
        if _custom(artifact, pusher.PUSHED_PROPERTY):
            summary.pushed_path = _custom(artifact, pusher.PUSHED_DESTINATION_PROPERTY) or ""
        summary.already_served = _custom(artifact, pusher.ALREADY_SERVED_PROPERTY) or ""


def _fill_gate(summary: RunSummary, artifact) -> None:
    """The blessing (with any override on record) or the evaluation (the gate's counts and words)."""
    from components.evaluator.metrics import read_gate  # TFMA import is slow: only when needed

    if _custom(artifact, features.BLESSED_PROPERTY) is not None:
        summary.blessed = bool(_custom(artifact, features.BLESSED_PROPERTY))
        summary.forced = bool(_custom(artifact, evaluator.FORCED_PROPERTY))
        summary.force_reason = _custom(artifact, evaluator.FORCE_REASON_PROPERTY) or ""
    elif artifact.uri:
        summary.verdict_reused_from = _custom(artifact, evaluator.REUSED_FROM_RUN_PROPERTY) or ""
        gate = read_gate(artifact.uri)
        if gate is not None:
            summary.accuracy, summary.baseline_accuracy = gate.accuracy, gate.baseline_accuracy
            summary.class_accuracy = gate.class_recall
            summary.gate_sentence = gate.verdict.sentence
            golden = read_gate(artifact.uri, features.GOLDEN_SPLIT)
            if golden is not None and golden.counts.images:
                summary.golden = {"accuracy": golden.accuracy, "images": golden.counts.images,
                                  "served": golden.baseline_accuracy}


def _small_data(record: RunRecord) -> str:
    """The small-data line for the train split ImageDataValidator counted, for the network the Trainer built."""
    import json

    from components.image_validation.report import image_validation_report, read_report
    from components.trainer.small_data import FROM_SCRATCH_BACKBONE, small_data_line

    validations = record.outputs(image_validation.NODE_ID)
    node = record.node(trainer.NODE_ID)
    if not validations or not image_validation_report(validations[0].uri):
        return ""
    raw_config = node.properties.get("custom_config") if node else None
    model = json.loads(json.loads(raw_config)[trainer.SETTINGS_KEY])["model"] if raw_config else {}
    counts = read_report(validations[0].uri).get("class_counts", {}).get(features.TRAIN_SPLIT, {})
    return small_data_line(counts, model.get("backbone", FROM_SCRATCH_BACKBONE))


def _tuning(record: RunRecord) -> str:
    """`Tuning: 4 trials (random), best val_accuracy ...`: the Tuner's outputs and its recorded algorithm."""
    from components.tuner.results import algorithm_of, read_best_values, read_trials, tuning_line

    node = record.node(tuner.NODE_ID)
    results = record.outputs(tuner.NODE_ID, tuner.RESULTS_TYPE)
    if node is None or not results:
        return ""
    best = record.outputs(tuner.NODE_ID, tuner.HYPERPARAMETERS_TYPE)
    return tuning_line(read_trials(results[0].uri), algorithm_of(node.properties.get("custom_config")),
                       read_best_values(best[0].uri) if best else {})


def _split_sizes(validation_uri: str) -> Dict[str, int]:
    from components.image_validation.report import image_validation_report, read_report
    if not image_validation_report(validation_uri):
        return {}
    counts = read_report(validation_uri).get("class_counts", {})
    return {split: sum(c.values()) for split, c in counts.items() if split != "all"}


def _fill_quarantine(summary: RunSummary, artifact) -> None:
    from components.image_example_gen.manifest import quarantine_path

    count = _custom(artifact, example_gen.NUM_QUARANTINED_PROPERTY)
    if isinstance(count, (int, float)):
        summary.quarantined = int(count)
        summary.quarantine_report = quarantine_path(artifact.uri)


def _spans_read(artifact) -> str:
    """The Examples artifact's window of spans in words ('' for a data root without batch folders)."""
    import json

    from components.image_example_gen.spans import SpanFolder, describe

    spans, names = _custom(artifact, example_gen.SPANS_PROPERTY), _custom(artifact, example_gen.SPAN_FOLDERS_PROPERTY)
    if not spans or not names:
        return ""
    return describe([SpanFolder(name, span) for name, span in zip(json.loads(names), json.loads(spans))])


def _fill_image_size(summary: RunSummary, artifact) -> None:
    """The size Transform chose: its artifact's properties, else the file it wrote in the graph."""
    from components.transform.image_size import read_size_choice
    if _custom(artifact, transform.IMAGE_SIZE_PROPERTY) is not None:
        summary.image_size = int(_custom(artifact, transform.IMAGE_SIZE_PROPERTY))
        summary.image_size_source = _custom(artifact, transform.IMAGE_SIZE_SOURCE_PROPERTY) or ""
        summary.median_short_side = _custom(artifact, transform.MEDIAN_SHORT_SIDE_PROPERTY)
        summary.resize_note = _custom(artifact, transform.RESIZE_NOTE_PROPERTY) or ""
        return
    choice = read_size_choice(artifact.uri)
    if choice is not None:
        summary.image_size, summary.image_size_source = choice.size, choice.source
        summary.median_short_side, summary.resize_note = choice.median_short_side, choice.note


def _size_and_training_lines(summary: RunSummary) -> List[str]:
    lines = []
    if summary.image_size is not None:
        why = (f"data.image_size=auto from the median short side {summary.median_short_side} px"
               if summary.image_size_source == "auto"
               else f"data.image_size; median short side {summary.median_short_side or '?'} px")
        lines.append(f"Image size: {summary.image_size} px ({why})")
    if summary.resize_note:
        lines.append(f"Resize warning: {summary.resize_note}")
    if summary.tuning:
        lines.append(summary.tuning)
    t = summary.training
    if t:
        accuracy = t.get("metrics_at_kept_epoch", {}).get("val_accuracy")
        lines.append(f"Training: kept epoch {t['kept_epoch']} of {t['epochs_run']} ({t['kept_why']}"
                     + (f", validation accuracy {accuracy:.4f}" if accuracy is not None else "")
                     + f"); stopped: {t['stopped_because']}" + (f"; {t['start']}" if t.get("start") else ""))
    lines.extend(backbone_lines(t))
    return lines


def backbone_lines(training: Dict[str, object]) -> List[str]:
    """One line for a pretrained backbone (components/trainer/fine_tune.py phases()); none for random weights."""
    b = (training or {}).get("backbone") or {}
    if not b or b.get("weights") == "none":
        return []
    return [f"Backbone: {b['backbone']} from {b['weights']}: {b['phases']}; kept epoch from the "
            f"{b['kept_epoch_phase']} phase"]


def golden_line(golden: Dict[str, object]) -> str:
    """`Golden set: accuracy 0.950 (40 images), served model 0.925`: the golden slice of the gate's counts."""
    served = "" if golden["served"] is None else f", served model {golden['served']:.3f}"
    return f"Golden set: accuracy {golden['accuracy']:.3f} ({golden['images']} images){served}"


def format_summary(summary: RunSummary) -> str:
    """Human-readable lines; the last three say blessed or not, test accuracy, and the pushed path."""
    lines = ["", f"Run {summary.run_id or '(none recorded)'}", "Component wall times:"]
    for c in summary.components:
        lines.append(f"  {c.component:<22} {c.seconds:7.1f} s  {c.state}")
    lines.append(f"  {'total':<22} {summary.pipeline_seconds:7.1f} s")
    if summary.nothing_new:
        lines.append(f"{summary.nothing_new}: {NOTHING_TO_DO} (every step after NewDataCheck skipped).")
    if summary.data_spans:
        lines.append(f"Data: {summary.data_spans}")
    if summary.quarantined is not None:
        lines.append(f"Quarantined at ingestion: {summary.quarantined} file(s)"
                     + (f", listed in {summary.quarantine_report}" if summary.quarantined else ""))
    if summary.split_sizes:
        shown = SPLIT_ORDER + ((features.GOLDEN_SPLIT,) if features.GOLDEN_SPLIT in summary.split_sizes else ())
        lines.append("Splits: " + ", ".join(f"{split} {summary.split_sizes.get(split, 0):,}"
                                            for split in shown) + " images")
    if summary.image_validation_report:
        lines.append(f"Image validation: passed with {len(summary.data_warnings)} warning(s); "
                     f"report {summary.image_validation_report}")
    lines.extend(f"Data warning: {warning}" for warning in summary.data_warnings)
    if summary.small_data:
        lines.append(summary.small_data)
    lines.extend(_size_and_training_lines(summary))
    if summary.class_accuracy:
        lines.append("Test recall per class: " + ", ".join(
            f"{name} {acc:.3f}" for name, acc in sorted(summary.class_accuracy.items())))
    if summary.error:
        lines.append(f"Run failed: {summary.error}")
    if summary.training_logdir:
        lines.append(f"TensorBoard: tensorboard --logdir {summary.training_logdir}")
    if summary.report_path or summary.report_error:
        lines.append(f"Report: {summary.report_path or 'not written: ' + summary.report_error}")
    if summary.verdict_reused_from:
        lines.append(reused_line(summary.baseline_source, summary.verdict_reused_from))
    if summary.gate_sentence:
        source = f" (served: {summary.baseline_source})" if summary.baseline_source else ""
        lines.append(f"Gate: {summary.gate_sentence}{source}")
    if summary.golden:
        lines.append(golden_line(summary.golden))
    if summary.forced:
        lines.append(f"Forced push (eval.force_bless): {summary.force_reason}")
    if summary.infra_check is not None:  # after the gate, as in the pipeline: it runs only on what was blessed
        lines.append(_infra_check_line(summary.infra_check))
    if summary.on_device is not None:
        lines.append(on_device_line(summary.on_device))
    lines.append(_blessing_line(summary))
    lines.append("Test accuracy: " + (f"{summary.accuracy:.4f}" if summary.accuracy is not None else "n/a"))
    lines.append("Pushed model: " + (summary.pushed_path or (
        f"none, the candidate is the served model already ({summary.already_served})" if summary.already_served
        else "none")))
    return "\n".join(lines)


def reused_line(baseline_source: str, reused_from: str) -> str:
    """Why TFMA did not run again (components/evaluator/reuse.py); the summary and the report print it."""
    import os
    model = (f"candidate byte-identical to served version {os.path.basename(baseline_source.rstrip('/'))}"
             if baseline_source else "nothing served, candidate byte-identical to the one judged then")
    return (f"Evaluator: not run again ({model}, same test examples and eval settings): "
            f"verdict reused from run {reused_from}")


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
