"""A run's model card as one JSON-ready dict (schema: docs/model-card.md), from the facts the run already has.

Every figure is read by the readers the report and the summary use, never recomputed: the run summary
(pipeline/history/summary.py: accuracy, golden set, image size, training record, warnings), the gate's
record (`model_facts.gate_facts`), TFMA's confusion matrix (`model_facts.confusion_matrices`), the image
validator's report (`data.read_validation`), the quarantine list and the class list beside the Examples
(components/image_example_gen/manifest.py), the run facts (`collect.run_facts`: config, versions).
No model is loaded and no image decoded: the card costs well under a second.
"""
from __future__ import annotations

import time
from typing import List, Optional

from components.evaluator import spec as evaluator
from components.image_example_gen.manifest import read_class_names, read_quarantine
from components.trainer.small_data import FROM_SCRATCH_BACKBONE
from components.tuner.space import format_values
from pipeline.history.report import model_facts
from pipeline.history.report.collect import held_out_splits, run_facts
from pipeline.history.report.data import examples_artifact, read_validation
from pipeline.history.run_record import RunRecord
from pipeline.history.summary import RunSummary, summary_of
from schemas import features
from schemas.config import Config

SCHEMA_VERSION = 1
IMBALANCE_NOTED = 1.5   # largest / smallest class (all splits) above which the card names the imbalance
QUARANTINE_LISTED = 20  # quarantined files listed by name; the count is always given


def build_card(record: RunRecord, cfg: Optional[Config]) -> dict:
    """The card of the candidate model of `record` (pushed or not: `evaluation.gate` says which)."""
    summary = summary_of(record)
    examples = examples_artifact(record)
    if examples is None:
        raise ValueError("no Examples artifact: a model card needs a run that ingested data")
    names = read_class_names(examples.uri)
    validation = read_validation(record, "") or {}
    run = run_facts(record, cfg)
    return {"schema_version": SCHEMA_VERSION,
            "model": _model(summary, cfg, names),
            "data": _data(summary, validation, read_quarantine(examples.uri), run),
            "evaluation": _evaluation(record, summary, names, held_out_splits(record, examples)),
            "training": _training(summary, cfg),
            "limitations": limitations(summary, validation),
            "versions": run["versions"]}


def _model(summary: RunSummary, cfg: Optional[Config], names: List[str]) -> dict:
    name = cfg.serving.model_name if cfg else ""
    return {"name": name, "pipeline": cfg.run.pipeline_name if cfg else "", "run_id": summary.run_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "classes": names,
            "intended_use": (f"Classifies one image into one of {len(names)} classes ({', '.join(names)}), the class "
                             f"folders it was trained on. Inputs: an encoded JPEG, PNG, GIF or BMP image "
                             f"(`serving_bytes`) or a tf.Example holding one (`serving_default`); it is resized to "
                             f"{summary.image_size} px. Outputs: a probability per class, the top class id and "
                             "name."),
            "out_of_scope": ("Images of any other class (the model always answers one of its classes), images "
                             "unlike the training data in kind, size or source (see Limitations), and decisions "
                             "about people.")}


def _data(summary: RunSummary, validation: dict, quarantined: List[dict], run: dict) -> dict:
    counts = {s: c for s, c in (validation.get("class_counts") or {}).items() if s != "all"}
    geometry = validation.get("geometry") or {}
    return {"data_root": run["data_root"], "spans": summary.data_spans, "span": run["span"],
            "images_per_class": counts, "split_sizes": summary.split_sizes,
            "imbalance_ratio": validation.get("imbalance_ratio"),
            "quarantined": {"count": len(quarantined), "report": summary.quarantine_report,
                            "files": [{"path": q.get("path", ""), "reason": q.get("reason", "")}
                                      for q in quarantined[:QUARANTINE_LISTED]]},
            "image_sizes": {"trained_px": summary.image_size, "source": summary.image_size_source,
                            "median_short_side_px": summary.median_short_side,
                            "width": {s: g.get("width") for s, g in geometry.items()},
                            "height": {s: g.get("height") for s, g in geometry.items()}},
            "resize_warning": summary.resize_note}


def _evaluation(record: RunRecord, summary: RunSummary, names: List[str], splits: List[str]) -> dict:
    """Overall and per class (TFMA's matrix), the served model beside it, the golden set, the gate."""
    gate = model_facts.gate_facts(record)
    evaluations = record.outputs(evaluator.NODE_ID, "ModelEvaluation")
    matrices = model_facts.confusion_matrices(evaluations[0].uri, len(names)) if evaluations else {}
    scores = model_facts.per_class_scores(matrices["candidate"], names) if "candidate" in matrices else {}
    classes = (gate or {}).get("classes", {})
    per_class = {name: {**scores.get(name, {}), "served_recall": classes.get(name, {}).get("served_recall")}
                 for name in names}
    return {"splits": splits, "accuracy": summary.accuracy, "served_accuracy": summary.baseline_accuracy,
            "served_model": summary.baseline_source, "per_class": per_class,
            "golden": summary.golden or None,
            "gate": None if gate is None else {
                "blessed": summary.blessed, "forced": summary.forced, "force_reason": summary.force_reason,
                "sentence": gate["sentence"], "reasons": gate["reasons"], "rules": gate["rules"],
                "images": gate["images"], "better": gate["better"], "worse": gate["worse"],
                "test": ("exact McNemar test on the images where the candidate and the served model disagree "
                         f"(one-sided, worse at {gate['rules']['confidence']:.0%} confidence), after the floors"
                         if gate["has_baseline"] else "no served model: the floors alone (eval.min_accuracy "
                         "and the per-class floors)"),
                "p_worse": gate["p_worse"]}}


def _training(summary: RunSummary, cfg: Optional[Config]) -> dict:
    t = summary.training or {}
    backbone = t.get("backbone") or {}
    return {"backbone": backbone.get("backbone") or (cfg.model.backbone if cfg else ""),
            "weights": backbone.get("weights", ""), "phases": backbone.get("phases", ""),
            "epochs_run": t.get("epochs_run"), "epochs_planned": t.get("epochs_planned"),
            "kept_epoch": t.get("kept_epoch"), "kept_why": t.get("kept_why", ""),
            "stopped_because": t.get("stopped_because", ""), "start": t.get("start", ""),
            "validation_accuracy": (t.get("metrics_at_kept_epoch") or {}).get("val_accuracy"),
            "seed": cfg.train.seed if cfg else None,
            "tuning": _tuning(t.get("hyperparameters") or {}, cfg), "hyperparameters": t.get("hyperparameters") or {},
            "config": cfg.to_dict() if cfg else None}


def _tuning(values: dict, cfg: Optional[Config]) -> str:
    """The Tuner's best values as the Trainer recorded them (the card reads the Trainer's record, not the Tuner)."""
    if not values:
        return ""
    how = f"{cfg.tune.trials} trials ({cfg.tune.algorithm}) judged on the validation split; " if cfg else ""
    return f"{how}trained with {format_values(values)}"


def limitations(summary: RunSummary, validation: dict) -> List[str]:
    """What this run itself found: small classes, imbalance, upsampling, every validation warning (drift,
    small splits, small images, ...), quarantined files, a small test set, no golden set."""
    found = [summary.small_data] if summary.small_data else []
    train = (validation.get("class_counts") or {}).get(features.TRAIN_SPLIT) or {}
    if train and not summary.small_data:
        name, count = min(sorted(train.items()), key=lambda kv: kv[1])
        if (summary.training.get("backbone") or {}).get("backbone", FROM_SCRATCH_BACKBONE) == FROM_SCRATCH_BACKBONE:
            found.append(f"Smallest class: {name!r} with {count} training image(s).")
    ratio = validation.get("imbalance_ratio")
    if ratio and ratio > IMBALANCE_NOTED:
        found.append(f"Class imbalance: the largest class has {ratio:.1f}x the images of the smallest; "
                     "per-class recall (above) matters more than accuracy.")
    if summary.resize_note:
        found.append(f"Resize: {summary.resize_note}")
    found += [f"Data warning: {w}" for w in summary.data_warnings]
    if summary.quarantined:
        found.append(f"{summary.quarantined} file(s) were quarantined at ingestion and not used "
                     f"({summary.quarantine_report}).")
    test = summary.split_sizes.get(features.TEST_SPLIT)
    if test is not None and summary.accuracy is not None:
        found.append(f"The test split has {test} image(s): one image is {1 / max(test, 1):.1%} of test accuracy.")
    if not summary.golden:
        found.append("No golden set (data.golden_dir): the model was judged on the newest batch's test split only.")
    return found
