"""The report's facts -> one self-contained HTML file (pictures inlined as base64 PNG, no network).

Sections in the order a reviewer asks: the decision, the data, augmentation,
training, evaluation, run facts. A section the run does not have says so.
"""
from __future__ import annotations

import base64
import html
import json
import re
from typing import Callable, Dict, List, Optional

import numpy as np

from pipeline.history.report import charts
from pipeline.history.summary import SPLIT_ORDER, reused_line

SECTIONS = (("decision", "Decision"), ("data", "Data"), ("augmentation", "Augmentation preview"),
            ("training", "Training"), ("evaluation", "Evaluation"), ("model_card", "Model card"), ("run", "Run facts"))
_STYLE = """body{font-family:sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
.verdict{font-size:1.3em;font-weight:bold}.ok{color:#1a7f37}.no{color:#b42318}
figure{display:inline-block;margin:.3em;text-align:center;font-size:.8em;max-width:160px;word-break:break-all}
.missing{color:#777;font-style:italic}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}"""


class Raw(str):
    """HTML that `esc` leaves as it is (a table cell holding markup we made)."""


def esc(value) -> str:
    return value if isinstance(value, Raw) else html.escape(str(value))


def img(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def figure(png: bytes, caption: str) -> str:
    return f"<figure>{img(png, caption)}<figcaption>{esc(caption)}</figcaption></figure>"


def table(header: Optional[List[str]], rows: List[List]) -> str:
    """A table; header None for a two-column list of facts."""
    head = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def render(facts: dict) -> str:
    renderers: Dict[str, Callable[[dict], str]] = {
        "decision": _decision, "data": _data, "augmentation": _augmentation,
        "training": _training, "evaluation": _evaluation, "model_card": _model_card, "run": _run}
    run_id = _marked("run-id", esc(facts["run_id"] or "(report written inside the pipeline)"))
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>imgpipe run {esc(facts['run_id'] or '')}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Run {run_id} <small>({esc(facts['pipeline_name'])})</small></h1>"]
    for key, title in SECTIONS:
        section = facts.get(key) or {"unavailable": "not recorded"}
        body = (f'<p class="missing unavailable">Not available for this run: {esc(section["unavailable"])}</p>'
                if "unavailable" in section else renderers[key](section))
        parts.append(f'<section id="{key}"><h2>{title}</h2>{body}</section>')
    return "\n".join(parts + ["</body></html>"])


def _decision(section: dict) -> str:
    """Verdict, the gate's sentence and reasons, the paired comparison, the infra check, the push."""
    s, gate = section["summary"], section.get("gate")
    if s["blessed"] is None:
        verdict = '<p class="verdict no">Stopped before a model was judged</p>'
    else:
        word = ("Blessed (forced)" if s["forced"] else "Blessed") if s["blessed"] else "Not blessed"
        verdict = f'<p class="verdict {"ok" if s["blessed"] else "no"}">{word}</p>'
    parts = [verdict] + ([f'<p class="small-data"><b>{esc(s["small_data"])}</b></p>'] if s.get("small_data") else [])
    if s.get("verdict_reused_from"):
        parts.append(f"<p>{esc(reused_line(s['baseline_source'], s['verdict_reused_from']))}</p>")
    if gate:
        parts.append(f"<p>Gate: {esc(gate['sentence'])}</p>")
        parts += ["<ul>" + "".join(f"<li>{esc(r)}</li>" for r in gate["reasons"]) + "</ul>"] if gate["reasons"] else []
    if s["forced"]:
        parts.append(f"<p><b>Forced push</b> (eval.force_bless): {esc(s['force_reason'])}</p>")
    if section["blocked_by"]:
        parts.append(f"<p><b>Stopped by</b> <code>{esc(section['blocked_by'])}</code></p>")
    if s["error"]:
        parts.append(f"<pre>{esc(s['error'])}</pre>")
    parts.append(table(None, _decision_rows(s, gate)))
    if gate and gate["classes"]:
        parts += ["<h3>Recall per class on the test split</h3>", table(
            ["class", "test images", "candidate recall", "served model recall"],
            [[name, c["images"], f"{c['candidate_recall']:.3f}", _num(c["served_recall"], 3)]
             for name, c in gate["classes"].items()])]
    warnings = "".join(f"<li>{esc(w)}</li>" for w in s["data_warnings"])
    return "\n".join(parts) + (f"<p>Data warnings:</p><ul>{warnings}</ul>" if warnings else "")


def _decision_rows(s: dict, gate: Optional[dict]) -> List[List]:
    """Test accuracy of both models, the McNemar comparison, the infra check, what was pushed."""
    splits = sorted(s["split_sizes"].items(), key=lambda kv: SPLIT_ORDER.index(kv[0]) if kv[0] in SPLIT_ORDER else 9)
    rows = [["splits (images)", ", ".join(f"{k} {v}" for k, v in splits) or "n/a"],
            ["candidate test accuracy", _num(s["accuracy"])],
            ["served model test accuracy", _served_accuracy(s)],
            ["served model", s["baseline_source"] or "none"]]
    if gate and gate["has_baseline"]:
        rows.append(["paired comparison", f"{gate['better']} images better, {gate['worse']} worse; exact McNemar "
                     f"p={gate['p_worse']:.3g} (not blessed below {1 - gate['rules']['confidence']:.3g})"])
    infra = s["infra_check"]
    if infra is not None:
        rows.append(["infra check", "passed: fresh-process load {:.2f} s, {} warmup requests, p50 {:.1f} ms".format(
            infra["load_seconds"], infra["requests"], infra["latency_ms_p50"]) if infra["blessed"]
            else "FAILED: " + "; ".join(infra["problems"])])
    rows.append(["pushed", s["pushed_path"] or "nothing pushed"])
    return rows


def _served_accuracy(s: dict) -> str:
    if s["baseline_accuracy"] is not None:
        return _num(s["baseline_accuracy"])
    if s["baseline_source"] and s["blessed"] is None:
        return "not judged: the run stopped before the Evaluator"
    return "not judged" if s["baseline_source"] else "no served model to compare with"


def _num(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _data(section: dict) -> str:
    counts = section["counts"]
    classes = sorted({c for per_split in counts.values() for c in per_split})
    rows = [[c] + [counts[s].get(c, 0) for s in counts] for c in classes]
    rows.append(["total"] + [sum(counts[s].values()) for s in counts])
    parts = ["<h3>Images per class per split</h3>", table(["class"] + list(counts), rows),
             img(charts.class_counts(counts), "images per class per split")]
    if section["sizes"]:
        parts += ["<h3>Image sizes</h3>", img(charts.image_sizes(section["sizes"]), "image sizes")]
    parts += _samples(section)
    parts += ["<h3>Quarantined at ingestion</h3>", table(["file", "reason"], [
        [q.get("path", ""), q.get("reason", "")] for q in section["quarantine"]]) if section["quarantine"]
        else "<p>No file was quarantined.</p>"]
    return "\n".join(parts + _validation(section))


def _samples(section: dict) -> List[str]:
    """Thumbnails per class: the newest batch's, then the previous batch's when the window holds it."""
    batches = section.get("batches") or []
    parts = []
    for i, (batch, classes) in enumerate(section["thumbnails"].items()):
        which = f": {'newest' if i == 0 else 'previous'} batch {batch}" if batch else ""
        parts.append(f"<h3>Samples per class{esc(which)}</h3>")
        parts += [f"<div><b>{esc(name)}</b><br>" + "".join(figure(charts.thumbnail(data), path) for path, data
                                                            in samples) + "</div>" for name, samples in classes.items()]
    if len(batches) == 1:
        parts.append('<p class="missing">The previous batch is not in this run\'s window '
                     "(data.window_spans=1); drift is measured against the previous accepted run.</p>")
    return parts


def _validation(section: dict) -> List[str]:
    validation = section["validation"]
    if validation is None:
        return ['<h3>Validation findings</h3><p class="missing">Image validation did not run.</p>']
    rows = [[f["severity"] if "severity" in f else kind, f.get("check", ""), f.get("message", "")]
            for kind in ("blocking", "warnings") for f in validation.get(kind, [])]
    parts = [f"<h3>Validation findings: {esc(validation.get('status', '?'))}</h3>",
             table(["severity", "check", "message"], rows) if rows else "<p>No findings.</p>",
             f"<p>Full report: <code>{esc(validation['report_path'])}</code></p>"]
    if section["leaks"]:
        parts.append("<h3>Leaked pairs (training image / held-out image)</h3>")
        for train, held_out, detail, train_png, held_png in section["leaks"]:
            pics = "".join(figure(charts.thumbnail(data), path) for path, data in
                           ((train, train_png), (held_out, held_png)) if data)
            parts.append(f"<div>{pics}<span> {esc(detail)}</span></div>")
    return parts


def _augmentation(section: dict) -> str:
    parts = [f"<p>Policy (config <code>augment.*</code>): <code>{esc(json.dumps(section['policy']))}</code></p>"]
    for row in section["rows"]:
        parts.append("<div>" + figure(charts.pixels_png(row["original"]), "as Transform prepares it") + "".join(
            figure(charts.pixels_png(a), f"augmented {i + 1}") for i, a in enumerate(row["augmented"])) + "</div>")
    return "\n".join(parts)


def _training(section: dict) -> str:
    history, stopping = section["per_epoch"], section.get("early_stopping") or {}
    best = stopping.get("best_epoch")
    facts = [["epochs run", f"{section['epochs_run']} of {section['epochs_planned']} planned"],
             ["early stopping", _stopping(stopping)],
             ["TensorBoard", f"tensorboard --logdir {section['logdir']}"]]
    if section.get("input"):  # records before 2026-12-07 do not say
        facts.insert(2, ["input between epochs", section["input"]])
    rows = [[i + 1, f"{t:.1f} s"] + [f"{h.get(k, float('nan')):.4f}" for k in
            ("loss", "accuracy", "val_loss", "val_accuracy")] for i, (h, t) in
            enumerate(zip(history, section["epoch_seconds"]))]
    curves = img(charts.learning_curves(history, best), "learning curves") if history else ""
    return (table(None, facts) + curves
            + table(["epoch", "time", "loss", "accuracy", "val_loss", "val_accuracy"], rows))


def _stopping(stopping: dict) -> str:
    """Whether training stopped early and which epoch was kept, as history.json's early_stopping records it."""
    if not stopping:
        return "off (the last epoch is kept)"
    ended = (f"stopped after epoch {stopping['stopped_epoch']}" if stopping.get("stopped_epoch")
             else f"did not stop early (patience {stopping['patience']})")
    watched = f"watched from epoch {stopping['first_watched_epoch']}" if "first_watched_epoch" in stopping else ""
    if stopping.get("best_epoch") is None:
        return f"{ended}; no epoch watched ({watched}): the last epoch is kept"
    return f"{ended}; kept epoch {stopping['best_epoch']} (best {stopping['monitor']}{', ' + watched if watched else ''})"


def _evaluation(section: dict) -> str:
    names = section["class_names"]
    parts = [f"<p>Held-out split: <b>{esc(section['split'])}</b> (TFMA output "
             f"<code>{esc(section['evaluation_uri'])}</code>)</p>"]
    for model, cells in section["confusion"].items():
        parts.append(img(charts.confusion(np.array(cells), names, f"{model}: confusion matrix"),
                         f"{model} confusion matrix"))
    scores = section["scores"]
    models = [m for m in ("candidate", "served") if m in scores]
    header = ["class"] + [f"{m} {k}" for m in models for k in ("precision", "recall", "F1")] + ["support"]
    rows = [[name] + [f"{scores[m][name][k]:.3f}" for m in models for k in ("precision", "recall", "f1")]
            + [scores[models[0]][name]["support"]] for name in names] if models else []
    parts += ["<h3>Per class (candidate beside the served model)</h3>", table(header, rows)]
    reused = section.get("predictions_from")
    made = (f"computed for the report at <code>{esc(reused)}</code>, whose candidate and images were these "
            "very files" if reused else "computed for this report")
    parts.append(f"<h3>Most confident mistakes</h3><p>Predictions of the candidate SavedModel on the "
                 f"{esc(section['split'])} split, {made}.</p>")
    parts += [figure(charts.thumbnail(m["image"]), f"{m['path']}: true {m['true']}, predicted {m['predicted']} "
                     f"({m['probability']:.2f})") for m in section["mistakes"]] or ["<p>No mistakes.</p>"]
    return "\n".join(parts + _explanations(section.get("explanations") or []))


def _explanations(explained: List[dict]) -> List[str]:
    """Each image as the model saw it beside the Grad-CAM heatmap of the class it predicted."""
    parts = ['<h3>Where the model looked (Grad-CAM)</h3><p>Heatmap of the predicted class from the last '
             "convolutional stage (red: most weight), beside the image as the model saw it: the most confident "
             "mistakes, then one correctly classified image per class.</p>"]
    for kind, title in (("mistake", "Most confident mistakes"), ("right", "One right answer per class")):
        shown = [e for e in explained if e["kind"] == kind]
        parts.append(f"<h4>{title}</h4>")
        parts += [f'<div class="explained {kind}">' + figure(e["original"], f"{e['path']}: true {e['true']}")
                  + figure(e["heatmap"], f"Grad-CAM: predicted {e['predicted']} ({e['probability']:.2f})")
                  + "</div>" for e in shown] or ["<p>None.</p>"]
    return parts


def _model_card(section: dict) -> str:
    """model_card.md as the pushed version carries it, as HTML (its headings two levels down). Raw HTML in
    it (a file name, a reason) is shown as text, never interpreted: the page stays script-free."""
    import markdown
    converter = markdown.Markdown(extensions=["tables", "fenced_code"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    text = re.sub(r"^(#+) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", section["markdown"], flags=re.M)
    return ('<p>The card pushed with the model as <code>assets.extra/model_card.md</code> and '
            '<code>model_card.json</code> (schema: docs/model-card.md).</p>'
            f'<div class="model-card">{converter.convert(text)}</div>')


def _run(section: dict) -> str:
    facts = table(None, [["started", _marked("started", esc(section["started"] or "n/a"))],
                         ["data root", section["data_root"]], ["span", section["span"]],
                         ["examples", section["examples_uri"]]])
    versions = table(["package", "version"], [[k, v] for k, v in section["versions"].items()])
    config = f"<pre>{esc(json.dumps(section['config'], indent=1))}</pre>" if section["config"] else \
        '<p class="missing">Config not recorded.</p>'
    return facts + "<h3>Component times</h3>" + _marked("component-times", component_times(section["components"])) \
        + "<h3>Config</h3>" + config + "<h3>Package versions</h3>" + versions


def component_times(components: Optional[List]) -> str:
    """(node, seconds, state) rows as a table; inside the pipeline no component knows them."""
    if components is None:
        return '<p class="missing">Not available inside the pipeline: see the orchestrator\'s run page.</p>'
    return table(["component", "seconds", "state"], [[n, f"{s:.1f}", st] for n, s, st in components])


def _marked(name: str, html_text: str) -> Raw:
    """`html_text` between markers finish_report can fill in later (facts only the orchestrator knows)."""
    return Raw(f"<!--{name}-->{html_text}<!--/{name}-->")


def finish_report(page: str, run_id: str, started: str, components: List) -> str:
    """The report RunReport wrote inside the pipeline, with what only ML Metadata knows filled in: the run
    id, when it started and each component's time. The rest of the page is as rendered, not rendered again."""
    for name, value in (("run-id", esc(run_id)), ("started", esc(started)),
                        ("component-times", component_times(components))):
        page = re.sub(f"<!--{name}-->.*?<!--/{name}-->", lambda _, n=name, v=value: _marked(n, v), page, flags=re.S)
    return re.sub("<title>.*?</title>", lambda _: f"<title>imgpipe run {esc(run_id)}</title>", page, count=1)
