"""The report's Markdown digest: what the Kubeflow Pipelines v2 UI shows inline on the RunReport task.

The decision, the gate's sentence and reasons, test (and golden) accuracy of both models, the per-class
table and what was pushed, then where the full HTML report and the model card are. Written from the
same facts as the HTML page (collect.py), as one file at its artifact's URI, typed `system.Markdown`
(component.py; docs/report.md says why and how the UI finds it).
"""
from __future__ import annotations

from typing import Optional

from components.pusher.spec import CARD_MARKDOWN
from pipeline.history.model_card.markdown import md_table, num

# The KFP UI serves an object-store file at /pipeline/artifacts/<source>/<bucket>/<key> (frontend/server/app.ts);
# its sources are named as WorkflowParser.parseStoragePath names them.
_UI_SOURCES = (("minio://", "minio"), ("s3://", "s3"), ("gs://", "gcs"))


def ui_link(uri: str) -> str:
    """A link the KFP UI serves for an object-store URI; the URI itself for any other path."""
    for scheme, source in _UI_SOURCES:
        if uri.startswith(scheme):
            return f"/pipeline/artifacts/{source}/{uri[len(scheme):]}"
    return uri


def digest_markdown(facts: dict, report_uri: str, card_uri: Optional[str] = None) -> str:
    """The digest of a run's report facts; `report_uri` is the full report's file, `card_uri` the card's folder."""
    decision = facts["decision"]
    s, gate = decision["summary"], decision.get("gate")
    if s["blessed"] is None:
        verdict = "Stopped before a model was judged"
    else:
        verdict = ("Blessed (forced)" if s["forced"] else "Blessed") if s["blessed"] else "Not blessed"
    lines = [f"# {verdict}", ""]
    if gate:
        lines += [f"**Gate:** {gate['sentence']}", ""] + [f"- {r}" for r in gate["reasons"]] + [""]
    if s["forced"]:
        lines += [f"**Forced push** (eval.force_bless): {s['force_reason']}", ""]
    rows = [["test accuracy", num(s["accuracy"], 4), num(s["baseline_accuracy"], 4)]]
    golden = s.get("golden") or {}
    if golden:
        rows.append([f"golden set ({golden['images']} images)", num(golden["accuracy"]), num(golden.get("served"))])
    lines += md_table(["", "candidate", "served model"], rows)
    lines += _per_class(facts, gate)
    lines += [f"Pushed: `{s['pushed_path'] or 'nothing pushed'}`", "",
              f"Full report (every chart, the data, Grad-CAM): [report.html]({ui_link(report_uri)}) (`{report_uri}`)"]
    if card_uri:
        card = f"{card_uri.rstrip('/')}/{CARD_MARKDOWN}"
        lines += ["", f"Model card: [{CARD_MARKDOWN}]({ui_link(card)}) (`{card}`)"]
    return "\n".join(lines) + "\n"


def _per_class(facts: dict, gate: Optional[dict]) -> list:
    """Recall per class of both models (the gate's counts) with the candidate's precision and F1 (TFMA's matrix)."""
    classes = (gate or {}).get("classes") or {}
    evaluation = facts.get("evaluation") or {}
    scores = (evaluation.get("scores") or {}).get("candidate") or {}
    if not classes:
        return []
    rows = [[name, c["images"], num(c["candidate_recall"]), num(c["served_recall"]),
             num(scores.get(name, {}).get("precision")), num(scores.get(name, {}).get("f1"))]
            for name, c in classes.items()]
    return ["## Per class, test split", ""] + md_table(
        ["class", "test images", "candidate recall", "served recall", "candidate precision", "candidate F1"], rows)
