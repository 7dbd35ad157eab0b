"""A model card (card.py's dict) as Markdown: `model_card.md`, and the card section of the HTML report.

Sections in the order of Google's Model Cards paper, as model-card-toolkit lays them out: model details
and intended use, training data, evaluation, training, limitations, versions.
"""
from __future__ import annotations

import json
from typing import List, Optional

from pipeline.history.summary import SPLIT_ORDER


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(header: List[str], rows: List[List]) -> List[str]:
    return ["| " + " | ".join(map(_cell, header)) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(map(_cell, row)) + " |" for row in rows] + [""]


def num(value: Optional[float], digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def card_markdown(card: dict) -> str:
    m, d, e, t = card["model"], card["data"], card["evaluation"], card["training"]
    lines = [f"# Model card: {m['name']}", "",
             f"Pipeline `{m['pipeline']}`, run `{m['run_id'] or '(inside the pipeline)'}`, written {m['created']}.", "",
             "## Intended use", "", m["intended_use"], "", f"Classes ({len(m['classes'])}): "
             + ", ".join(f"`{c}`" for c in m["classes"]), "", f"Out of scope: {m['out_of_scope']}", ""]
    lines += _data_lines(d) + _evaluation_lines(e, m["classes"]) + _training_lines(t)
    lines += ["## Limitations found by this run", ""] + [f"- {x}" for x in card["limitations"]] + [""]
    lines += ["## Versions", ""] + md_table(["package", "version"], sorted(card["versions"].items()))
    return "\n".join(lines)


def _data_lines(d: dict) -> List[str]:
    counts = d["images_per_class"]
    splits = sorted(counts, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER))
    classes = sorted({c for per in counts.values() for c in per})
    rows = [[c] + [counts[s].get(c, 0) for s in splits] for c in classes]
    rows.append(["total"] + [sum(counts[s].values()) for s in splits])
    sizes = d["image_sizes"]
    lines = ["## Training data", "", f"Data root: `{d['data_root']}`" + (f"; {d['spans']}" if d["spans"] else ""), "",
             "Images per class per split:", ""] + md_table(["class"] + splits, rows)
    why = "data.image_size=auto" if sizes["source"] == "auto" else "data.image_size"
    lines += [f"Trained at {sizes['trained_px']} px ({why}; median short side {sizes['median_short_side_px']} px).",
              "", "Image sizes per split:", ""]
    for split in splits:
        w, h = sizes["width"].get(split) or {}, sizes["height"].get(split) or {}
        if w and h:
            lines.append(f"- {split}: width {w.get('min')}-{w.get('max')} px, height {h.get('min')}-{h.get('max')} px")
    if d["resize_warning"]:
        lines += ["", f"Resize warning: {d['resize_warning']}"]
    q = d["quarantined"]
    lines += ["", f"Quarantined at ingestion: {q['count']} file(s)" + (f" ({q['report']})" if q["count"] else ""), ""]
    if q["files"]:
        lines += md_table(["file", "reason"], [[f["path"], f["reason"]] for f in q["files"]])
    return lines


def _evaluation_lines(e: dict, classes: List[str]) -> List[str]:
    served = e["served_accuracy"] is not None
    lines = ["## Evaluation", "", f"On the held-out split(s) the Evaluator judged: {' + '.join(e['splits'])}.", "",
             f"Accuracy: candidate {num(e['accuracy'], 4)}"
             + (f", served model {num(e['served_accuracy'], 4)} ({e['served_model']})" if served
                else " (no served model to compare with)"), ""]
    header = ["class", "precision", "recall", "F1", "support"] + (["served model recall"] if served else [])
    rows = [[c, num(p.get("precision")), num(p.get("recall")), num(p.get("f1")), p.get("support", "n/a")]
            + ([num(p.get("served_recall"))] if served else []) for c, p in
            ((c, e["per_class"].get(c, {})) for c in classes)]
    lines += md_table(header, rows)
    g = e["golden"]
    if g:
        lines += [f"Golden set: accuracy {num(g['accuracy'])} ({g['images']} images)"
                  + (f", served model {num(g['served'])}" if g.get("served") is not None else ""), ""]
    gate = e["gate"]
    if gate:
        verdict = ("blessed (forced: " + gate["force_reason"] + ")" if gate["forced"]
                   else "blessed" if gate["blessed"] else "not blessed")
        lines += [f"Gate: **{verdict}**. {gate['sentence']}", "", f"Test: {gate['test']}."
                  + (f" p = {gate['p_worse']:.3g}." if gate["p_worse"] is not None else ""),
                  "", f"Rules: `{json.dumps(gate['rules'], sort_keys=True)}`", ""]
        lines += [f"- {r}" for r in gate["reasons"]] + ([""] if gate["reasons"] else [])
    return lines


def _training_lines(t: dict) -> List[str]:
    rows = [["backbone", f"{t['backbone']}" + (f" ({t['weights']} weights)" if t["weights"] else "")],
            ["phases", t["phases"] or "n/a"],
            ["epochs", f"kept epoch {t['kept_epoch']} of {t['epochs_run']} run ({t['epochs_planned']} planned)"],
            ["epoch kept because", t["kept_why"]], ["stopped because", t["stopped_because"]],
            ["validation accuracy at the kept epoch", num(t["validation_accuracy"], 4)],
            ["start", t["start"] or "n/a"], ["seed (train.seed)", t["seed"]],
            ["hyperparameter tuning (tune.*)", t.get("tuning") or "off (tune.trials=0)"]]
    config = json.dumps(t["config"], indent=1, sort_keys=True) if t["config"] else "not recorded"
    return ["## Training", ""] + md_table(["fact", "value"], rows) + \
        ["The whole config:", "", "```json", config, "```", ""]
