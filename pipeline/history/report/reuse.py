"""The report's one costly part, kept for a run that judges the same model on the same images.

The evaluation section predicts the held-out images with the candidate (for its most confident mistakes)
and draws Grad-CAM over some of them: a model load and a prediction pass, most of an unchanged re-run's
time. What they produce depends only on the candidate's files, the judged splits' files, the class names
and the code below that computes them, so a report whose candidate and images are byte for byte those of
an earlier report takes that report's results instead of computing them again (the TFMA figures and the
served model's matrix are read for each run as before).

The results are kept beside each report (`<report artifact>/evaluation_reuse*.json`) and found among its
siblings (`<pipeline root>/RunReport/report/<id>/`, the local runner's layout), as the Evaluator finds
its earlier verdicts (components/evaluator/reuse.py). A Kubeflow run has its own root, so nothing is found
there and the report computes them: the reuse is an optimisation, never a requirement.
"""
from __future__ import annotations

import base64
import time
from typing import List, Optional

import numpy as np

from components.evaluator.reuse import examples_digest, tree_digest
from components.fs import read_json, sibling_documents, source_digest, write_json
from components.pusher.already_served import model_digests

KEY_FILE = "evaluation_reuse_key.json"   # small: read for every earlier report when looking for a match
RESULTS_FILE = "evaluation_reuse.json"   # the mistakes (with their image bytes) and the explanations
# The code whose output is kept: a change to any of it computes again.
_SOURCES = ("pipeline.history.report.model_facts", "pipeline.history.report.explain",
            "pipeline.history.report.charts", "pipeline.history.report.reuse", "components.trainer.grad_cam")


def key(candidate_dir: str, examples_uri: str, splits: List[str], class_names: List[str]) -> Optional[dict]:
    """What a report must share with an earlier one to take its results; None without a candidate model."""
    candidate = model_digests(candidate_dir) if candidate_dir else {}
    if not candidate:
        return None
    return {"candidate": tree_digest(candidate),
            "examples": examples_digest(examples_uri, splits), "splits": list(splits),
            "class_names": list(class_names), "code": source_digest(_SOURCES)}


def find_earlier(report_uri: str, wanted: dict) -> Optional[dict]:
    """The newest earlier report's results with the same key (plus `from`: that report's folder), else None."""
    matches = [(found.get("written", 0.0), uri) for uri, found in sibling_documents(report_uri, KEY_FILE)
               if found.get("key") == wanted]
    for _, uri in sorted(matches, reverse=True):
        results = read_json(f"{uri}/{RESULTS_FILE}")
        if results is not None:  # a key without its results (a report cut short) is passed over
            return {**_decoded(results), "from": uri}
    return None


def record(report_uri: str, wanted: dict, mistakes: List[dict], explanations: List[dict],
           predicted_confusion: Optional[np.ndarray]) -> None:
    """Keep this report's results and key for a later report; the key is written last, so a key is only
    ever found with its results."""
    write_json(f"{report_uri}/{RESULTS_FILE}", {
        "mistakes": [{**m, "image": _b64(m["image"]), "probabilities": np.asarray(m["probabilities"]).tolist()}
                     for m in mistakes],
        "explanations": [{**e, "original": _b64(e["original"]), "heatmap": _b64(e["heatmap"])} for e in explanations],
        "predicted_confusion": None if predicted_confusion is None else np.asarray(predicted_confusion).tolist()})
    write_json(f"{report_uri}/{KEY_FILE}", {"key": wanted, "written": time.time()})


def _decoded(results: dict) -> dict:
    confusion = results.get("predicted_confusion")
    return {
        "mistakes": [{**m, "image": base64.b64decode(m["image"]),
                      "probabilities": np.asarray(m["probabilities"], dtype=np.float32)} for m in results["mistakes"]],
        "explanations": [{**e, "original": base64.b64decode(e["original"]), "heatmap": base64.b64decode(e["heatmap"])}
                         for e in results["explanations"]],
        "predicted_confusion": None if confusion is None else np.asarray(confusion, dtype=np.int64)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
