"""End to end: image-aware validation gates training in the real pipeline.

One output folder, as a user's successive runs would share: a first good run
(with data that earns warnings) pushes a model and becomes the validation
reference; then each blocking anomaly stops a run before Transform and the
Trainer, with a non-zero exit, and the pushed model stays byte-for-byte as it was.
"""
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from pipeline import cli
from pipeline.exit_codes import EXIT_FAILED
from pipeline.local import demo_data
from pipeline.local.runner import run_local
from pipeline.history.summary import format_summary
from schemas.config import build_config
from tests.browser import check_page
from tests.fixtures import colour_image, make_colour_folder, report_facts, tree_digest

# One epoch, no bar and no test-size floor: the first run only has to push a model for the later runs to protect.
CHEAP = ["data.image_size=16", "train.epochs=1", "train.batch_size=32", "train.early_stopping_patience=0",
         "model.stage_filters=[8]", "model.stage_strides=[2]", "model.stem_filters=8",
         "augment.rotation_degrees=0", "augment.zoom=0", "eval.min_accuracy=0", "eval.min_class_recall=0",
         "eval.min_test_images=0", "eval.min_test_per_class=0"]
TRAINING = {"Transform", "Trainer", "Evaluator", "Pusher"}
RED_COPIES = 12  # copies of one red image under other names: the path hash puts some in validation/test


def add_class(root: str, name: str, channel: int, count: int, size: int = 20, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, name))
    for i in range(count):
        Image.fromarray(colour_image(channel, size, rng)).save(os.path.join(root, name, f"{name}_{i:03d}.png"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_validation")
    data = make_colour_folder(str(root / "data"))  # 3 x 30 images of 20x20 px
    for k in range(RED_COPIES):
        shutil.copy(os.path.join(data, "red", "red_001.png"), os.path.join(data, "red", f"copy_{k}.png"))
    return {"root": root, "data": data, "output": str(root / "output")}


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_local(build_config(overrides=CHEAP), workspace["data"], workspace["output"])


def serving_digest(workspace) -> str:
    return tree_digest(os.path.join(workspace["output"], "serving"))


def assert_stopped_before_training(run, *checks):
    assert "ImageValidationError" in run.error, run.error
    for check in checks:
        assert f"BLOCKING [{check}]" in run.error, run.error
    states = {c.component: c.state for c in run.components}
    # DataGate passed: in this run, or in an earlier one whose result the cache reused (run.enable_cache)
    assert states["DataGate"] in ("complete", "cached") and states["ImageDataValidator"] != "complete"
    assert_nothing_trained(run)


def assert_nothing_trained(run):
    states = {c.component: c.state for c in run.components}
    assert not TRAINING & {c for c, s in states.items() if s == "complete"}
    assert run.blessed is None and run.pushed_path == ""


def blocked_run(workspace, overrides, data=None):
    before = serving_digest(workspace)
    run = run_local(build_config(overrides=CHEAP + overrides), data or workspace["data"], workspace["output"])
    assert serving_digest(workspace) == before
    return run


def test_a_good_run_with_warnings_pushes_and_shows_each_warning_in_the_summary(first_run, workspace):
    assert first_run.error == "" and first_run.pushed_path
    states = {c.component: c.state for c in first_run.components}
    assert states["ImageDataValidator"] == "complete"
    text = format_summary(first_run)
    assert f"Image validation: passed with 2 warning(s); report {first_run.image_validation_report}" in text
    assert "Data warning: [min_image_side] 102 of 102 image(s) have a side below validation.min_image_side=32" in text
    leak_lines = [line for line in text.splitlines() if line.startswith("Data warning: [leakage]")]
    assert len(leak_lines) == 1 and "identical pair(s)" in leak_lines[0] and "red/copy_" in leak_lines[0]
    reference = os.path.join(workspace["output"], "pipeline_root", "ImageDataValidator", "reference", "imgpipe")
    with open(os.path.join(reference, "image_validation.json")) as f:
        saved = json.load(f)
    assert saved["status"] == "passed" and saved["classes"] == ["blue", "green", "red"]
    assert saved["class_counts"]["all"] == {"blue": 30, "green": 30, "red": 42}
    assert saved["geometry"]["train"]["width"]["max"] == 20


def test_too_few_images_in_a_class_stops_the_run(first_run, workspace):
    # Ingestion enforces data.min_images_per_class first; ImageDataValidator re-checks what reached the
    # Examples (unit-tested in test_image_validation.py). Either way, nothing is trained.
    run = blocked_run(workspace, ["data.min_images_per_class=33"])
    assert "data.min_images_per_class=33" in run.error and "blue" in run.error and "green" in run.error
    assert_nothing_trained(run)


def test_class_imbalance_stops_the_run(first_run, workspace):
    run = blocked_run(workspace, ["validation.max_imbalance_ratio=1.1"])
    assert_stopped_before_training(run, "class_imbalance")
    assert "1.40" in run.error


def test_leakage_stops_the_run_when_it_is_an_error_and_the_report_is_kept(first_run, workspace, tmp_path):
    run = blocked_run(workspace, ["validation.leakage_is_error=true"])
    assert_stopped_before_training(run, "leakage")
    report_path = re.search(r"Full report: (\S+image_validation\.json)", run.error).group(1)
    with open(report_path) as f:
        kept = json.load(f)
    assert kept["status"] == "blocked" and [b["check"] for b in kept["blocking"]] == ["leakage"]
    assert {leak["kind"] for leak in kept["leaks"]} == {"exact"} and len(kept["leaks"]) >= 1
    assert_report_shows_the_block(run, workspace, tmp_path, len(kept["leaks"]))


def assert_report_shows_the_block(run, workspace, tmp_path, leaks: int):
    """A blocked run's report: the decision names the stop, the data section shows the leaked pairs."""
    facts = report_facts(workspace["output"], run.run_id, build_config(overrides=CHEAP))
    assert facts["decision"]["blocked_by"] == "ImageDataValidator"
    with open(run.report_path, encoding="utf-8") as f:
        assert "BLOCKING [leakage]" in f.read()  # the error that stopped the run, as `imgpipe run` wrote it
    validation = facts["data"]["validation"]
    assert validation["status"] == "blocked" and validation["report_path"].endswith(".stopped/image_validation.json")
    shown = facts["data"]["leaks"]
    assert len(shown) == min(leaks, 6) and all(a.startswith("red/") and b.startswith("red/") for a, b, *_ in shown)
    assert all(pair[3] and pair[4] for pair in shown)  # both pictures of every pair were found
    assert {k for k in ("augmentation", "training", "evaluation") if "unavailable" in facts[k]} == \
        {"training", "evaluation"}
    seen = check_page(run.report_path, str(tmp_path), str(tmp_path / "blocked.png"))
    assert seen["unavailable"] == ["training", "evaluation", "model_card"] and all(i["ok"] for i in seen["images"])
    assert seen["errors"] == [] and seen["console_errors"] == []


def test_a_class_of_the_curated_schema_that_vanished_stops_the_run(first_run, workspace, tmp_path):
    with open(os.path.join(os.path.dirname(demo_data.DEMO_SCHEMA), "schema.pbtxt")) as f:
        schema = f.read()
    schema = schema.replace('value: "circle"\n  value: "square"\n  value: "triangle"',
                            'value: "blue"\n  value: "green"\n  value: "red"\n  value: "yellow"')
    schema = schema.replace("int_domain { min: 0 max: 2 }", "int_domain { min: 0 max: 3 }")
    assert '"yellow"' in schema
    (tmp_path / "schema.pbtxt").write_text(schema)
    run = blocked_run(workspace, [f"data.schema_path={tmp_path / 'schema.pbtxt'}"])
    assert_stopped_before_training(run, "vanished_class")
    assert "yellow" in run.error and "curated schema" in run.error


def test_a_class_the_previous_run_did_not_have_stops_the_run(first_run, workspace):
    data = str(workspace["root"] / "data_with_yellow")
    shutil.copytree(workspace["data"], data)
    add_class(data, "yellow", channel=0, count=30)
    run = blocked_run(workspace, [], data=data)
    assert_stopped_before_training(run, "unexpected_class")
    assert "yellow" in run.error and "previous validated run" in run.error


def test_image_size_drift_stops_the_run_with_a_non_zero_exit(first_run, workspace, capsys):
    data = make_colour_folder(str(workspace["root"] / "data_large"), size=40, seed=3)
    before = serving_digest(workspace)
    code = cli.main(["run", "--data", data, "--output", workspace["output"]]
                    + [arg for item in CHEAP for arg in ("--set", item)])
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert "ImageValidationError" in out and "BLOCKING [size_drift]" in out and "width" in out
    assert "Pushed model: none" in out
    assert serving_digest(workspace) == before
    assert re.search(r"^\[\d+/15\] ImageDataValidator \.\.\. \d+\.\d s failed$", out, re.M), out
    report = re.search(r"^Report: (\S+\.html)$", out, re.M).group(1)
    assert os.path.isfile(report)
