"""A run's facts for the report, as one plain dict: one key per section.

Each section is gathered on its own and tolerates what this run lacks: a run
stopped by validation has no training or evaluation, and a section that cannot
be read says why (`{"unavailable": reason}`) instead of failing the whole report.
"""
from __future__ import annotations

import dataclasses
import json
import platform
import time
from importlib import metadata
from typing import Callable, List, Optional

from absl import logging

from components.evaluator import spec as evaluator
from components.image_example_gen import spec as example_gen
from components.image_example_gen.manifest import read_class_names, read_manifest
from components.trainer import spec as trainer
from pipeline.history.model_card import read_card
from pipeline.history.report import explain, model_facts, reuse
from pipeline.history.report.data import data_section, examples_artifact, iter_examples, split_names
from pipeline.history.run_record import RunRecord, artifact_property
from pipeline.history.summary import RunSummary, summary_of
from schemas import features
from schemas.config import Config

PACKAGES = ("imgpipe", "tfx", "tensorflow", "tf-keras", "tensorflow-transform", "tensorflow-data-validation",
            "tensorflow-model-analysis", "ml-metadata", "apache-beam", "kfp", "matplotlib")
TRAIN_SPLIT = features.TRAIN_SPLIT


def collect(record: RunRecord, pipeline_root: str, cfg: Optional[Config] = None, error: str = "",
            report_uri: str = "") -> dict:
    """All sections of the report of `record`; `error` is the run's failure, if it failed. `report_uri`: the
    RunReport artifact being written, where the evaluation section keeps its costly results for a later
    report of the same model and images, and looks for an earlier one's (reuse.py)."""
    summary = _section(lambda: summary_of(record), fallback=RunSummary(run_id=record.run_id))
    summary.error = error
    cfg = _section(lambda: model_facts.run_config(record, cfg), fallback=cfg)
    facts = {"run_id": record.run_id, "pipeline_name": record.pipeline_name,
             "decision": {"summary": dataclasses.asdict(summary), "blocked_by": record.stopped_at,
                          "gate": _section(lambda: model_facts.gate_facts(record), fallback=None)}}
    facts["data"] = _section(lambda: data_section(record, pipeline_root))
    facts["augmentation"] = _section(
        lambda: model_facts.augmentation_section(_train_images(record), cfg, summary.image_size))
    facts["training"] = _section(lambda: model_facts.training_section(record))
    facts["evaluation"] = _section(lambda: evaluation_section(record, report_uri))
    facts["model_card"] = _section(lambda: read_card(record) or {"unavailable": "the ModelCard step did not run"})
    facts["run"] = _section(lambda: run_facts(record, cfg))
    return facts


_UNAVAILABLE = object()


def _section(gather: Callable[[], object], fallback=_UNAVAILABLE):
    """The section, or (if gathering it raised; logged in full) `fallback` or {"unavailable": why}."""
    try:
        return gather()
    except Exception as e:  # one unreadable section must not cost the user the rest of the report
        logging.exception("Report section failed")
        return {"unavailable": f"could not be read: {type(e).__name__}: {e}"} if fallback is _UNAVAILABLE \
            else fallback


def _train_images(record: RunRecord) -> list:
    examples = examples_artifact(record)
    if examples is None or TRAIN_SPLIT not in split_names(examples):
        return []
    images = []
    for ex in iter_examples(examples.uri, TRAIN_SPLIT):
        images.append(ex["image"])
        if len(images) == model_facts.AUGMENTED_IMAGES:
            break
    return images


def held_out_splits(record: RunRecord, examples) -> List[str]:
    """The splits the Evaluator judged (its example_splits: test, and golden with data.golden_dir),
    else the first split that is not train."""
    node = record.node(evaluator.NODE_ID)
    chosen = json.loads((node.properties.get(evaluator.EXAMPLE_SPLITS_PROPERTY) if node else "") or "[]")
    others = [s for s in split_names(examples) if s != TRAIN_SPLIT]
    return chosen or others[:1]


def evaluation_section(record: RunRecord, report_uri: str = "") -> dict:
    """Confusion matrices, per-class scores of candidate and served model, most confident mistakes, and
    Grad-CAM explanations of those mistakes and of one right answer per class.

    The candidate's matrix is TFMA's (the Evaluator's own count); the served model's is
    made here from its predictions on the same split, since the gate's TFMA config
    computes plots for the candidate only. The candidate's mistakes and explanations are an earlier
    report's when that report (a sibling of `report_uri`) judged the same files on the same images.
    """
    from tfx.utils import path_utils
    evaluations = record.outputs(evaluator.NODE_ID, "ModelEvaluation")
    examples = examples_artifact(record)
    if not evaluations or examples is None:
        return {"unavailable": "the Evaluator did not run"}
    names = read_class_names(examples.uri)
    matrices = model_facts.confusion_matrices(evaluations[0].uri, len(names))
    splits = held_out_splits(record, examples)

    def predict(model_dir: str, loaded=None) -> list:  # over every judged split, as TFMA pooled them
        return [row for split in splits
                for row in model_facts.predict_split(model_dir, examples.uri, split, loaded)]

    models = record.outputs(trainer.NODE_ID, "Model")
    candidate = path_utils.serving_model_path(models[0].uri) if models else ""
    wanted = reuse.key(candidate, examples.uri, splits, names) if report_uri and candidate and splits else None
    earlier = reuse.find_earlier(report_uri, wanted) if wanted else None
    if earlier:
        mistakes, explained, predicted = earlier["mistakes"], earlier["explanations"], earlier["predicted_confusion"]
    else:
        loaded = model_facts.load_model(candidate) if candidate and splits else None  # once: predictions, Grad-CAM
        rows = predict(candidate, loaded) if loaded is not None else []
        mistakes = model_facts.confident_mistakes(rows)
        explained = _section(lambda: explain.explanations(loaded, mistakes, explain.one_right_per_class(rows), names),
                             fallback=[]) if rows else []
        predicted = model_facts.confusion_from_predictions(rows, len(names)) if rows else None
        if wanted and rows:
            reuse.record(report_uri, wanted, mistakes, explained, predicted)
    served = model_facts.served_model_dir(record)
    if served and splits:  # the served model's predictions are the candidate's when their files are the same
        same = predicted is not None and model_facts.same_model(candidate, served)
        matrices["served"] = predicted if same else model_facts.confusion_from_predictions(predict(served), len(names))
    return {"class_names": names, "split": " + ".join(splits), "evaluation_uri": evaluations[0].uri,
            "predictions_from": earlier["from"] if earlier else "",
            "confusion": {m: cells.tolist() for m, cells in matrices.items()},
            "scores": {m: model_facts.per_class_scores(cells, names) for m, cells in matrices.items()},
            "mistakes": [{**m, "true": names[m["label"]], "predicted": names[int(m["probabilities"].argmax())],
                          "probability": float(m["probabilities"].max())} for m in mistakes],
            "explanations": explained}


def run_facts(record: RunRecord, cfg: Optional[Config]) -> dict:
    """Component times (when MLMD recorded them), config, package versions, data root and span."""
    examples = examples_artifact(record)
    gen = record.node(example_gen.NODE_ID)
    timed = record.started_ms > 0  # the in-pipeline RunReport component sees artifacts, not executions
    return {"started": started_text(record),
            "components": [(n.node, n.seconds, n.state) for n in record.nodes] if timed else None,
            "config": cfg.to_dict() if cfg else None,
            "data_root": (gen.properties.get("input_base") if gen else "") or (read_manifest(examples.uri) if examples is not None else {}).get("data_root", ""),
            "span": artifact_property(examples, "span") if examples is not None else None,
            "versions": {**{p: _version(p) for p in PACKAGES}, "python": platform.python_version()},
            "examples_uri": examples.uri if examples is not None else ""}


def started_text(record: RunRecord) -> str:
    """When the run started, local time; "" when unknown (inside the pipeline, no execution is known)."""
    if record.started_ms <= 0:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started_ms / 1000))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
