"""End to end: the real pipeline (LocalDagRunner, Beam DirectRunner, SQLite MLMD) on tiny data.

Three runs share one output folder, as a user's successive runs would:
1. a good run is blessed and pushes a model that classifies held-out images
   through both serving signatures;
2. a run that cannot meet the bar is not blessed, pushes nothing, and leaves
   the served model byte-for-byte as it was;
3. a run whose data violates the schema stops before Transform and training.
"""
import hashlib
import io
import os
import re

import pytest
import tensorflow as tf

from schemas import features
from schemas.config import build_config
from pipeline import cli
from pipeline.local_runner import run_local
from pipeline.report.collect import collect
from pipeline.report.component import REPORT_FILE
from pipeline.report.render import SECTIONS
from pipeline.run_record import open_store, read_run_record
from pipeline.summary import format_summary
from tests.browser import check_page
from tests.fixtures import COLOUR_CLASSES, encoded_colour_image, make_colour_folder

ALL_COMPONENTS = {"ImageExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataGate",
                  "ImageDataValidator", "Transform", "Trainer", "ServedModelBaseline", "Evaluator", "Pusher",
                  "RunReport"}
FAST = ["data.image_size=20", "train.epochs=12", "train.batch_size=16", "train.early_stopping_patience=0",
        "model.stage_filters=[16,32]", "model.stage_strides=[2,2]", "model.stem_filters=16",
        "augment.rotation_degrees=0", "augment.zoom=0", "eval.min_accuracy=0.9"]


def tree_digest(root: str) -> str:
    digest = hashlib.sha256()
    for directory, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def served_versions(output: str) -> list:
    model_dir = os.path.join(output, "serving", "image_classifier")
    return sorted(os.listdir(model_dir)) if os.path.isdir(model_dir) else []


def serialized_example(encoded: bytes) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    })).SerializeToString()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return {"data": make_colour_folder(str(root / "data")), "output": str(root / "output")}


@pytest.fixture(scope="module")
def first_run(workspace):
    workspace["progress"] = io.StringIO()
    return run_local(build_config(overrides=FAST), workspace["data"], workspace["output"],
                     progress=workspace["progress"])


def report_facts(output: str, run_id: str, cfg=None) -> dict:
    """The report's facts for a run, gathered again from MLMD the way `imgpipe report` does."""
    record = read_run_record(open_store(os.path.join(output, "metadata.sqlite")), "imgpipe", run_id)
    return collect(record, os.path.join(output, "pipeline_root"), cfg)


def test_a_good_run_runs_every_component_and_pushes_a_blessed_model(first_run, workspace):
    assert first_run.error == ""
    assert {c.component for c in first_run.components} == ALL_COMPONENTS
    assert all(c.state == "complete" for c in first_run.components)
    assert first_run.blessed is True and first_run.accuracy >= 0.9
    assert set(first_run.class_accuracy) == set(COLOUR_CLASSES)
    assert first_run.baseline_accuracy is None  # first run: floor only
    (version,) = served_versions(workspace["output"])
    assert first_run.pushed_path.rstrip("/").endswith(os.path.join("image_classifier", version))
    assert os.path.isfile(os.path.join(first_run.pushed_path, "saved_model.pb"))
    summary = format_summary(first_run, 0.9, 0.01).splitlines()
    assert summary[-3].startswith("Blessed: yes")
    assert summary[-2] == f"Eval accuracy: {first_run.accuracy:.4f}"
    assert summary[-1] == f"Pushed model: {first_run.pushed_path}"


def test_the_pushed_model_classifies_held_out_images_through_both_signatures(first_run):
    model = tf.saved_model.load(first_run.pushed_path)
    names = sorted(COLOUR_CLASSES)
    images = [encoded_colour_image(name) for name in names]
    by_bytes = model.signatures[features.BYTES_SIGNATURE](**{features.BYTES_INPUT: tf.constant(images)})
    by_example = model.signatures[features.EXAMPLES_SIGNATURE](
        **{features.EXAMPLES_INPUT: tf.constant([serialized_example(i) for i in images])})
    for outputs in (by_bytes, by_example):
        assert [n.decode() for n in outputs[features.CLASS_NAME_OUTPUT].numpy()] == names
        assert outputs[features.PROBABILITIES_OUTPUT].shape == (3, 3)
        assert list(outputs[features.CLASS_ID_OUTPUT].numpy()) == [0, 1, 2]
    with open(os.path.join(first_run.pushed_path, "assets", features.LABELS_FILE)) as f:
        assert f.read().split() == names


def test_a_model_below_the_bar_is_not_pushed_and_the_served_model_is_untouched(first_run, workspace):
    before = tree_digest(os.path.join(workspace["output"], "serving"))
    hopeless = FAST + ["train.epochs=1", "train.learning_rate=1e-9", "eval.min_accuracy=0.9"]
    second = run_local(build_config(overrides=hopeless), workspace["data"], workspace["output"])
    assert second.error == ""
    assert second.blessed is False and second.pushed_path == ""
    assert second.baseline_accuracy is not None and second.baseline_accuracy >= 0.9
    assert second.baseline_source.endswith(served_versions(workspace["output"])[0])
    assert served_versions(workspace["output"]) == [os.path.basename(first_run.pushed_path)]
    assert tree_digest(os.path.join(workspace["output"], "serving")) == before
    assert format_summary(second, 0.9, 0.01).splitlines()[-1] == "Pushed model: none"


def test_data_that_violates_the_schema_stops_the_run_before_training(first_run, workspace, tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text(
        'feature { name: "label_name" type: BYTES domain: "label_name" }\n'
        'string_domain { name: "label_name" value: "red" value: "green" }\n')
    before = tree_digest(os.path.join(workspace["output"], "serving"))
    cfg = build_config(overrides=FAST + [f"data.schema_path={schema}"])
    run = run_local(cfg, workspace["data"], workspace["output"])
    assert "DataValidationError" in run.error and "label_name" in run.error and "blue" in run.error
    ran = {c.component: c.state for c in run.components}
    assert ran["DataGate"] != "complete"
    assert not {"Transform", "Trainer", "Evaluator", "Pusher"} & {c for c, s in ran.items() if s == "complete"}
    assert run.blessed is None and run.pushed_path == ""
    assert tree_digest(os.path.join(workspace["output"], "serving")) == before


def test_progress_lines_follow_the_run_component_by_component_and_epoch_by_epoch(first_run, workspace):
    lines = workspace["progress"].getvalue().splitlines()
    ends = [re.fullmatch(r"\[(\d+)/12\] (\w+) \.\.\. (\d+\.\d) s", line) for line in lines]
    assert {m.group(2) for m in ends if m} == ALL_COMPONENTS
    assert [int(m.group(1)) for m in ends if m] == list(range(1, 13))
    assert sum(line.startswith("      Epoch ") for line in lines) == 12
    assert any(line.startswith("      Epoch 12/12: loss ") and "val_accuracy" in line for line in lines)


def test_the_report_of_a_good_run_holds_the_runs_own_numbers(first_run, workspace):
    assert first_run.report_path.endswith(".html") and os.path.isfile(first_run.report_path)
    facts = report_facts(workspace["output"], first_run.run_id)
    data = facts["data"]
    assert data["splits"] == ["train", "eval"]
    for name in COLOUR_CLASSES:  # 30 images per class, every one in exactly one split
        assert data["counts"]["train"][name] + data["counts"]["eval"][name] == 30
    assert len(data["sizes"]) == 90 and set(data["sizes"]) == {(20, 20)}
    assert sorted(data["thumbnails"]) == sorted(COLOUR_CLASSES) and data["quarantine"] == []
    evaluation = facts["evaluation"]
    cells = evaluation["confusion"]["candidate"]
    assert sum(map(sum, cells)) == sum(data["counts"]["eval"].values())
    assert sum(cells[i][i] for i in range(3)) / sum(map(sum, cells)) == pytest.approx(first_run.accuracy)
    assert len(evaluation["mistakes"]) == min(8, sum(map(sum, cells)) - sum(cells[i][i] for i in range(3)))
    assert all(m["true"] != m["predicted"] for m in evaluation["mistakes"])
    training = facts["training"]
    assert training["epochs_run"] == 12 and len(training["history"]) == len(training["epoch_seconds"]) == 12
    assert training["early_stopping"] is None  # train.early_stopping_patience=0
    rows = facts["augmentation"]["rows"]
    assert len(rows) == 3 and all(len(r["augmented"]) == 5 and r["original"].shape == (20, 20, 3) for r in rows)
    assert facts["run"]["data_root"] == workspace["data"]
    assert first_run.training_logdir and f"TensorBoard: tensorboard --logdir {first_run.training_logdir}" in \
        format_summary(first_run, 0.9, 0.01)


def test_the_report_opens_in_a_browser_with_every_section_and_picture(first_run, tmp_path):
    seen = check_page(first_run.report_path, str(tmp_path), str(tmp_path / "report.png"))
    assert seen["sections"] == [key for key, _ in SECTIONS] and seen["unavailable"] == []
    assert len(seen["images"]) > 20 and all(i["ok"] and i["inline"] for i in seen["images"]), seen["images"]
    assert seen["errors"] == [] and seen["console_errors"] == [] and seen["external"] == 0


def test_the_runreport_component_wrote_the_report_into_its_artifact(first_run, workspace):
    folder = os.path.join(workspace["output"], "pipeline_root", "RunReport", "report")
    first = min(os.listdir(folder), key=int)  # execution ids grow; later runs of this module add folders
    with open(os.path.join(folder, first, REPORT_FILE), encoding="utf-8") as f:
        page = f.read()
    assert all(f'<section id="{key}">' in page for key, _ in SECTIONS)
    assert "Not available inside the pipeline" in page and "Blessed" in page


def test_imgpipe_runs_lists_each_run_with_its_verdict(first_run, workspace, capsys):
    assert cli.main(["runs", "--output", workspace["output"]]) == cli.EXIT_OK
    header, *rows = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:3] == ["when", "run", "data"]
    assert len(rows) == 3  # the blessed run, the one below the bar, the one the schema stopped
    assert "  blessed  " in rows[0] and os.path.basename(first_run.pushed_path) in rows[0]
    assert "  not blessed  " in rows[1] and "stopped at DataGate" in rows[2]
    assert first_run.report_path in rows[0] and workspace["data"] in rows[0]
    assert cli.main(["report", workspace["output"]]) == cli.EXIT_OK
    assert capsys.readouterr().out.strip().startswith("Report: ")
