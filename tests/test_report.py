"""The run report's pieces on small known inputs, and a rendered report checked in headless Chromium.

The reports of real runs (a blessed one, a blocked one) are checked in
tests/test_pipeline_e2e.py and tests/test_image_validation_e2e.py, on their fixture runs.
"""
import io
import logging
import os
import time

import numpy as np
from absl import logging as absl_logging
from PIL import Image

from pipeline.local.progress import ProgressLines, progress_lines
from pipeline.history.report import report_path
from pipeline.history.report.data import leak_pairs
from pipeline.history.report.model_facts import (augmentation_section, confident_mistakes, confusion_from_predictions,
                                         per_class_scores, same_model)
from pipeline.history.model_card.markdown import card_markdown
from pipeline.history.report.digest import digest_markdown
from pipeline.history.report.render import SECTIONS, render
from tests.browser import check_page
from tests.fixtures import encoded_colour_image

NAMES = ["blue", "green", "red"]


def test_per_class_scores_from_a_confusion_matrix():
    cells = np.array([[8, 2, 0],    # blue: 8 right, 2 taken for green
                      [0, 5, 0],
                      [1, 3, 6]])   # red: 6 right, 1 blue, 3 green
    scores = per_class_scores(cells, NAMES)
    assert scores["blue"] == {"precision": 8 / 9, "recall": 0.8, "f1": 2 * (8 / 9) * 0.8 / (8 / 9 + 0.8),
                              "support": 10}
    assert scores["green"]["precision"] == 0.5 and scores["green"]["recall"] == 1.0
    assert scores["red"]["precision"] == 1.0 and scores["red"]["recall"] == 0.6 and scores["red"]["support"] == 10


def test_a_class_never_predicted_scores_zero_not_nan():
    scores = per_class_scores(np.array([[3, 0], [2, 0]]), ["a", "b"])
    assert scores["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}


def test_the_most_confident_mistakes_are_chosen_and_right_answers_never_are():
    rows = [{"path": "right_sure.png", "label": 0, "probabilities": np.array([0.99, 0.01])},
            {"path": "wrong_sure.png", "label": 0, "probabilities": np.array([0.05, 0.95])},
            {"path": "wrong_unsure.png", "label": 1, "probabilities": np.array([0.6, 0.4])},
            {"path": "wrong_mid.png", "label": 1, "probabilities": np.array([0.8, 0.2])}]
    assert [m["path"] for m in confident_mistakes(rows, k=2)] == ["wrong_sure.png", "wrong_mid.png"]
    assert [m["path"] for m in confident_mistakes(rows)] == ["wrong_sure.png", "wrong_mid.png", "wrong_unsure.png"]


def test_the_served_model_is_predicted_again_only_when_its_files_differ_from_the_candidates(tmp_path):
    """A served copy of the candidate takes the candidate's predictions; the push's own files do not count."""
    from components.pusher.spec import CARD_FILES, CARD_VERSION_DIR
    for name in ("candidate", "served"):
        (tmp_path / name / "variables").mkdir(parents=True)
        (tmp_path / name / "saved_model.pb").write_bytes(b"graph")
        (tmp_path / name / "variables" / "variables.index").write_bytes(b"weights")
    (tmp_path / "served" / CARD_VERSION_DIR).mkdir()
    (tmp_path / "served" / CARD_VERSION_DIR / CARD_FILES[0]).write_text("# the card of the run that pushed it")
    assert same_model(str(tmp_path / "candidate"), str(tmp_path / "served"))
    (tmp_path / "served" / "variables" / "variables.index").write_bytes(b"weightz")
    assert not same_model(str(tmp_path / "candidate"), str(tmp_path / "served"))
    assert not same_model(str(tmp_path / "nothing"), str(tmp_path / "nothing"))  # no SavedModel: not "the same"


def test_a_report_takes_an_earlier_reports_mistakes_only_for_the_same_model_images_and_classes(tmp_path):
    """The key changes with a model file, a judged example file or the class names; the finder skips the report
    being written, a key whose results are missing, and takes the newest match, with its bytes and arrays intact."""
    from pipeline.history.report import reuse
    model, examples, reports = tmp_path / "model", tmp_path / "examples", tmp_path / "RunReport" / "report"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"weights")
    (examples / "Split-test").mkdir(parents=True)
    (examples / "Split-test" / "data.gz").write_bytes(b"records")
    key = reuse.key(str(model), str(examples), ["test"], NAMES)
    assert key == reuse.key(str(model), str(examples), ["test"], NAMES)
    assert reuse.key(str(tmp_path / "no-model"), str(examples), ["test"], NAMES) is None
    assert key != reuse.key(str(model), str(examples), ["test"], ["blue", "green", "teal"])
    mistake = {"path": "red/1.png", "label": 2, "image": b"\x89PNG...", "probabilities": np.array([0.1, 0.8, 0.1], np.float32)}
    explained = {"path": "red/1.png", "kind": "mistake", "true": "red", "predicted": "green", "probability": 0.8,
                 "original": b"png-1", "heatmap": b"png-2"}
    reuse.record(str(reports / "1"), key, [mistake], [explained], np.eye(3, dtype=np.int64))
    time.sleep(0.01)
    reuse.record(str(reports / "2"), key, [], [], None)
    (reports / "3").mkdir()
    (reports / "3" / reuse.KEY_FILE).write_text('{"key": %s, "written": 9e99}' % __import__("json").dumps(key))
    found = reuse.find_earlier(str(reports / "4"), key)
    assert found["from"] == str(reports / "2") and found["mistakes"] == [] and found["predicted_confusion"] is None
    found = reuse.find_earlier(str(reports / "2"), key)  # never its own
    assert found["from"] == str(reports / "1") and found["explanations"] == [explained]
    assert found["mistakes"][0]["image"] == mistake["image"] and found["mistakes"][0]["probabilities"].dtype == np.float32
    assert np.array_equal(found["mistakes"][0]["probabilities"], mistake["probabilities"])
    assert np.array_equal(found["predicted_confusion"], np.eye(3))
    (examples / "Split-test" / "data.gz").write_bytes(b"other records")
    assert reuse.find_earlier(str(reports / "4"), reuse.key(str(model), str(examples), ["test"], NAMES)) is None
    (examples / "Split-test" / "data.gz").write_bytes(b"records")
    (model / "variables" / "variables.index").write_bytes(b"weightz")
    assert reuse.find_earlier(str(reports / "4"), reuse.key(str(model), str(examples), ["test"], NAMES)) is None


def test_the_served_models_matrix_counts_its_predictions_at_argmax():
    rows = [{"label": 0, "probabilities": np.array([0.7, 0.2, 0.1])},
            {"label": 0, "probabilities": np.array([0.1, 0.3, 0.6])},
            {"label": 2, "probabilities": np.array([0.1, 0.3, 0.6])},
            {"label": 1, "probabilities": np.array([0.5, 0.4, 0.1])}]
    assert confusion_from_predictions(rows, 3).tolist() == [[1, 0, 1], [1, 0, 0], [0, 0, 1]]


def test_properties_a_kubeflow_task_receives_as_struct_values_read_as_plain_values():
    from google.protobuf import json_format
    from ml_metadata.proto import metadata_store_pb2
    from pipeline.history.run_record import value_of
    for plain in (1.0, "gs://bucket/serving/image_classifier/7"):  # e.g. `blessed`, `pushed_destination`
        value = metadata_store_pb2.Value()
        json_format.ParseDict({"__value__": plain}, value.struct_value)
        assert value_of(value) == plain
    assert value_of(metadata_store_pb2.Value(int_value=1)) == 1


def test_leak_pairs_read_the_held_out_split_by_whatever_name_it_has():
    validation = {"leaks": [{"train": "red/a.png", "eval": "red/b.png", "kind": "exact", "distance": 0},
                            {"train": "red/c.png", "test": "red/d.png", "kind": "near", "distance": 3}]}
    assert leak_pairs(validation) == [("red/a.png", "red/b.png", "exact"), ("red/c.png", "red/d.png", "near, 3 bits")]
    assert leak_pairs(None) == []


def test_report_path_is_safe_for_buckets_and_windows():
    assert report_path("/out/pipeline_root", "2026-11-26T22:45:01.5") == \
        "/out/pipeline_root/reports/2026-11-26T22-45-01.5.html"


def test_progress_lines_show_each_component_start_and_end_and_epochs():
    stream = io.StringIO()
    absl_logger = logging.getLogger("absl")
    with progress_lines(3, stream):
        absl_logger.info("Component %s is running.", "ImageExampleGen")
        saved = absl_logging.get_verbosity()  # what TensorFlow does around every SavedModel export
        absl_logging.set_verbosity(absl_logging.FATAL)
        absl_logging.set_verbosity(saved)
        absl_logger.info("Component %s is finished.", "ImageExampleGen")
        absl_logger.info("Component %s is running.", "Trainer")
        logging.getLogger("imgpipe.progress").info("Epoch 1/2: loss 0.5000 (0.1 s)")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/3] ImageExampleGen started"
    assert lines[1].startswith("[1/3] ImageExampleGen ... ") and lines[1].endswith(" s")
    assert lines[2:4] == ["[2/3] Trainer started", "      Epoch 1/2: loss 0.5000 (0.1 s)"]
    assert lines[4].startswith("[2/3] Trainer ... ") and lines[4].endswith(" s failed")  # never finished
    assert len(lines) == 5


def test_still_running_lines_come_only_after_a_silence_epoch_lines_count_as_progress():
    stream = io.StringIO()
    handler = ProgressLines(2, stream, heartbeat=0.6)

    def log(name: str, message: str) -> None:
        handler.emit(logging.LogRecord(name, logging.INFO, "", 0, message, None, None))

    log("absl", "Component Trainer is running.")
    for epoch in range(1, 5):  # 1.2 s in all, never 0.6 s without a line
        time.sleep(0.3)
        log("imgpipe.progress", f"Epoch {epoch}/4")
    log("absl", "Component Trainer is finished.")
    log("absl", "Component Evaluator is running.")
    time.sleep(0.9)  # one heartbeat (at 0.6 s), not two
    handler.finish("")
    lines = stream.getvalue().splitlines()
    assert not [line for line in lines if "Trainer ... still running" in line], lines
    assert len([line for line in lines if line.startswith("[2/2] Evaluator ... still running (")]) == 1, lines


def _png(name: str) -> bytes:
    return encoded_colour_image(name)


def synthetic_card() -> dict:
    """A card as card.build_card writes it, for the synthetic run below."""
    scores = per_class_scores(np.array([[4, 1, 0], [0, 5, 0], [0, 0, 5]]), NAMES)
    return {"schema_version": 1,
            "model": {"name": "image_classifier", "pipeline": "imgpipe", "run_id": "", "created": "2026-11-26T10:00:00Z",
                      "classes": NAMES, "intended_use": "Classifies colours.", "out_of_scope": "Anything else."},
            "data": {"data_root": "/data", "spans": "", "span": 0, "split_sizes": {"train": 60, "validation": 15, "test": 15},
                     "images_per_class": {"train": {n: 20 for n in NAMES}, "validation": {n: 5 for n in NAMES},
                                          "test": {n: 5 for n in NAMES}}, "imbalance_ratio": 1.0,
                     "quarantined": {"count": 1, "report": "/q.json", "files": [{"path": "red/<x>.jpg",
                                                                                  "reason": "content is not JPEG"}]},
                     "image_sizes": {"trained_px": 32, "source": "auto", "median_short_side_px": 20,
                                     "width": {"train": {"min": 20, "max": 30}}, "height": {"train": {"min": 20, "max": 20}}},
                     "resize_warning": ""},
            "evaluation": {"splits": ["test"], "accuracy": 0.9333, "served_accuracy": 0.9, "served_model": "/serving/1",
                           "per_class": {n: {**scores[n], "served_recall": 0.6 if n == "blue" else 1.0} for n in NAMES},
                           "golden": None, "gate": {"blessed": True, "forced": False, "force_reason": "",
                                                    "sentence": "candidate 0.933 vs served 0.900: blessed", "reasons": [],
                                                    "rules": {"confidence": 0.95}, "images": 15, "better": 2, "worse": 0,
                                                    "test": "exact McNemar test", "p_worse": 1.0}},
            "training": {"backbone": "resnet_cnn", "weights": "none", "phases": "one", "epochs_run": 3, "epochs_planned": 5,
                         "kept_epoch": 2, "kept_why": "best", "stopped_because": "early stopping", "start": "cold start",
                         "validation_accuracy": 0.9, "seed": 42, "config": {"train": {"seed": 42}}},
            "limitations": ["Smallest class: 'blue' with 20 training image(s)."],
            "versions": {"tfx": "1.16.0"}}


def synthetic_facts() -> dict:
    """Every section filled, as collect() would fill them for a 3-class run."""
    pixels = np.asarray(Image.open(io.BytesIO(_png("red"))).convert("RGB")) / 255.0
    history = [{"loss": 1.0 / e, "accuracy": 0.5 + e / 10, "val_loss": 1.2 / e, "val_accuracy": 0.4 + e / 10}
               for e in (1, 2, 3)]
    cells = [[4, 1, 0], [0, 5, 0], [0, 0, 5]]
    return {
        "run_id": "2026-11-26T10:00:00", "pipeline_name": "imgpipe",
        "decision": {"blocked_by": "", "gate": {
            "sentence": "candidate 0.933 vs served 0.900 on 15 test images; 2 images differ (2 better, 0 worse); "
                        "not worse at 95% confidence: blessed", "reasons": [], "blessed": True,
            "rules": {"min_accuracy": 0.8, "confidence": 0.95, "max_class_recall_drop": 0.2, "min_class_recall": 0.5},
            "has_baseline": True, "images": 15, "better": 2, "worse": 0, "p_worse": 1.0,
            "classes": {"blue": {"images": 5, "candidate_recall": 0.8, "served_recall": 0.6}}},
            "summary": {
                "blessed": True, "forced": False, "force_reason": "", "accuracy": 0.9333, "baseline_accuracy": 0.9,
                "baseline_source": "/serving/1", "pushed_path": "/serving/2", "error": "",
                "split_sizes": {"train": 60, "validation": 15, "test": 15},
                "infra_check": {"blessed": True, "problems": [], "load_seconds": 1.5, "requests": 8,
                                "latency_ms_p50": 3.0},
                "data_warnings": ["[leakage] 1 identical pair(s)"]}},
        "data": {"splits": ["train", "validation", "test"],
                 "counts": {"train": {n: 20 for n in NAMES}, "validation": {n: 5 for n in NAMES},
                            "test": {n: 5 for n in NAMES}},
                 "sizes": [(20, 20)] * 70 + [(30, 20)] * 5, "thumbnails": {"": {n: [(f"{n}/1.png", _png(n))] for n in NAMES}},
                 "quarantine": [{"path": "red/x.jpg", "reason": "content is not JPEG"}],
                 "validation": {"status": "passed", "blocking": [], "report_path": "/v/image_validation.json",
                                "warnings": [{"check": "leakage", "message": "1 identical pair(s)"}]},
                 "leaks": [("red/1.png", "red/2.png", "exact", _png("red"), _png("red"))]},
        "augmentation": {"policy": {"flip_left_right": True},
                         "rows": [{"original": pixels, "augmented": [pixels[::-1], pixels[:, ::-1]]}]},
        "training": {"epochs_planned": 5, "epochs_run": 3, "per_epoch": history, "epoch_seconds": [1.0, 0.5, 0.5],
                     "early_stopping": {"stopped_epoch": 3, "best_epoch": 2, "monitor": "val_accuracy, ties to the lower val_loss",
                                        "first_watched_epoch": 2, "patience": 1},
                     "input": "decoded images (~2,400 MB) above train.cache_max_mb=2048; cached in a file under /tmp/x",
                     "logdir": "/model_run"},
        "evaluation": {"class_names": NAMES, "split": "test", "evaluation_uri": "/eval",
                       "confusion": {"candidate": cells, "served": cells},
                       "scores": {m: per_class_scores(np.array(cells), NAMES) for m in ("candidate", "served")},
                       "mistakes": [{"path": "blue/3.png", "image": _png("blue"), "true": "blue",
                                     "predicted": "green", "probability": 0.61}],
                       "explanations": [{"path": p, "kind": kind, "true": t, "predicted": pr, "probability": 0.9,
                                         "original": _png(t), "heatmap": _png(pr)}
                                        for p, kind, t, pr in (("blue/3.png", "mistake", "blue", "green"),
                                                               ("red/1.png", "right", "red", "red"))]},
        "model_card": {"json": synthetic_card(), "markdown": card_markdown(synthetic_card())},
        "run": {"started": "2026-11-26 10:00:00", "components": [("Trainer", 3.2, "complete")],
                "config": {"train": {"epochs": 5}}, "data_root": "/data", "span": 0, "examples_uri": "/out/examples",
                "versions": {"tfx": "1.16.0"}}}


def test_a_full_report_renders_every_section_and_every_picture_in_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(synthetic_facts()), encoding="utf-8")
    shot = str(tmp_path / "report.png")
    seen = check_page(str(page), str(tmp_path), shot)
    assert seen["sections"] == [key for key, _ in SECTIONS]
    assert seen["unavailable"] == []
    # 2 charts + 3 thumbnails + 2 leak + 3 augmentation + curves + 2 confusion + 1 mistake + 2 x 2 Grad-CAM
    assert len(seen["images"]) == 18 and all(i["ok"] and i["inline"] for i in seen["images"]), seen["images"]
    assert [i["alt"] for i in seen["images"] if i["alt"].startswith("Grad-CAM")] == [
        "Grad-CAM: predicted green (0.90)", "Grad-CAM: predicted red (0.90)"]
    assert seen["errors"] == [] and seen["console_errors"] == [] and seen["external"] == 0
    assert os.path.getsize(shot) > 10_000


def test_the_training_section_says_where_the_decoded_images_stayed_and_older_records_still_render():
    facts = synthetic_facts()
    assert ("<td>input between epochs</td><td>decoded images (~2,400 MB) above train.cache_max_mb=2048; "
            "cached in a file under /tmp/x</td>") in render(facts)
    del facts["training"]["input"]  # a record written before 2026-12-07
    html = render(facts)
    assert "input between epochs" not in html and "stopped after epoch 3; kept epoch 2" in html


def test_the_decision_shows_the_gate_the_paired_comparison_and_the_infra_check():
    html = render(synthetic_facts())
    assert "Gate: candidate 0.933 vs served 0.900 on 15 test images" in html
    assert "2 images better, 0 worse; exact McNemar p=1 (not blessed below 0.05)" in html
    assert "<td>blue</td><td>5</td><td>0.800</td><td>0.600</td>" in html  # recall per class, both models
    assert "passed: fresh-process load 1.50 s, 8 warmup requests, p50 3.0 ms" in html
    assert "train 60, validation 15, test 15" in html


def test_a_reused_verdict_is_said_in_the_decision_in_the_summarys_words():
    facts = synthetic_facts()
    assert "not run again" not in render(facts)
    facts["decision"]["summary"]["verdict_reused_from"] = "2026-12-05T16:23:01"
    assert ("Evaluator: not run again (candidate byte-identical to served version 1, same test examples and eval "
            "settings): verdict reused from run 2026-12-05T16:23:01") in render(facts)


def test_a_run_with_nothing_but_a_decision_says_what_is_missing(tmp_path):
    facts = {"run_id": "r1", "pipeline_name": "imgpipe",
             "decision": {"blocked_by": "ImageExampleGen", "summary": {
                 "blessed": None, "forced": False, "accuracy": None, "baseline_accuracy": None, "baseline_source": "",
                 "split_sizes": {}, "infra_check": None, "pushed_path": "",
                 "error": "IngestionLimitError: too many bad files", "data_warnings": []}}}
    facts.update({key: {"unavailable": f"no {key}"} for key, _ in SECTIONS[1:]})
    html = render(facts)
    assert "Stopped before a model was judged" in html and "IngestionLimitError: too many bad files" in html
    assert html.count("Not available for this run") == len(SECTIONS) - 1


def test_the_augmentation_preview_uses_the_size_the_run_chose_when_the_config_says_auto():
    from schemas.config import build_config
    from tests.fixtures import encoded_colour_image
    cfg = build_config()  # data.image_size=auto
    images = [encoded_colour_image("red", 20, seed) for seed in range(2)]
    section = augmentation_section(images, cfg, image_size=32)
    assert [row["original"].shape for row in section["rows"]] == [(32, 32, 3)] * 2
    assert all(version.shape == (32, 32, 3) for row in section["rows"] for version in row["augmented"])
    stopped = augmentation_section(images, cfg, image_size=None)
    assert stopped == {"unavailable": "the run stopped before Transform chose the image size (data.image_size=auto)"}


def test_the_model_card_says_what_the_run_found_with_its_own_figures():
    text = card_markdown(synthetic_card())
    assert "Classes (3): `blue`, `green`, `red`" in text
    assert "| blue | 20 | 5 | 5 |" in text and "| total | 60 | 15 | 15 |" in text  # images per class per split
    assert "| blue | 1.000 | 0.800 | 0.889 | 5 | 0.600 |" in text  # precision, recall, F1, support, served recall
    assert "Accuracy: candidate 0.9333, served model 0.9000 (/serving/1)" in text
    assert "Gate: **blessed**. candidate 0.933 vs served 0.900: blessed" in text and "p = 1." in text
    assert "kept epoch 2 of 3 run (5 planned)" in text and "| seed (train.seed) | 42 |" in text
    assert "- Smallest class: 'blue' with 20 training image(s)." in text
    assert "Trained at 32 px (data.image_size=auto; median short side 20 px)." in text


def test_the_report_shows_the_card_as_text_never_as_markup():
    html = render(synthetic_facts())
    card = html[html.index('<section id="model_card">'):html.index('<section id="run">')]
    assert "<h3>Model card: image_classifier</h3>" in card and "<td>content is not JPEG</td>" in card
    assert "red/&lt;x&gt;.jpg" in card and "<x>" not in card  # a file name cannot inject markup


def test_the_kubeflow_digest_holds_the_decision_the_gate_and_the_classes():
    facts = synthetic_facts()
    text = digest_markdown(facts, "minio://mlpipeline/v2/artifacts/imgpipe/r1/RunReport/report/report.html",
                           "minio://mlpipeline/v2/artifacts/imgpipe/r1/ModelCard/card")
    assert text.startswith("# Blessed\n") and f"**Gate:** {facts['decision']['gate']['sentence']}" in text
    assert "| test accuracy | 0.9333 | 0.9000 |" in text
    assert "| blue | 5 | 0.800 | 0.600 | 1.000 | 0.889 |" in text  # recall both models, candidate precision and F1
    assert ("[report.html](/pipeline/artifacts/minio/mlpipeline/v2/artifacts/imgpipe/r1/RunReport/report/report.html)"
            in text)
    assert "Pushed: `/serving/2`" in text
    assert "Model card: [model_card.md](/pipeline/artifacts/minio/mlpipeline/v2/artifacts/imgpipe/r1/ModelCard/card/" \
        "model_card.md)" in text
