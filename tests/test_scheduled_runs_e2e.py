"""End to end: a data root of batches arriving across scheduled runs (docs/scheduled-runs.md).

The real pipeline (LocalDagRunner, Beam DirectRunner, SQLite MLMD), tiny data (16 px, 30 images
per batch, 1 epoch), one output folder:
1. rounds 1 and 2 are there: with a window of two spans the run trains on both and pushes
   (train.warm_start=true, but nothing is served yet: a cold start, saying so);
2. round 3 arrives: the next run trains on rounds 2 and 3, starting from the served model's
   weights, and pushes a new version;
3. nothing arrives: `imgpipe run` stops in seconds, exit 0, saying which span and version,
   and pushes nothing;
4. a drifted round arrives (images 40 px instead of 16, in a copy of the data root): the run stops at
   the image validator, before training, with the validation exit code; the served versions are unchanged.
Every run is also judged on a fixed golden folder (data.golden_dir, 6 images) that is never trained on.
What each run trained on is read back from the Examples artifact, the summary and the served model.
"""
import glob
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from components.image_example_gen.eval_sets import hash_split
from pipeline import cli
from pipeline.exit_codes import EXIT_FAILED
from pipeline.local.runner import run_local
from pipeline.history.summary import format_summary
from schemas.config import build_config
from tests.browser import check_page
from tests.fixtures import make_colour_folder, make_span_folders, read_splits, tree_digest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPANS = ["data.span_pattern=round-{SPAN}", "data.window_spans=2", "train.warm_start=true"]
# Tiny and quick; the gate's floors are off: this sequence is about which data each run reads.
TINY = SPANS + ["data.image_size=16", "train.epochs=1", "train.batch_size=16", "train.early_stopping_patience=0",
                "model.stage_filters=[8]", "model.stage_strides=[2]", "model.stem_filters=8",
                "data.test_percent=20", "eval.min_accuracy=0", "eval.min_class_recall=0",
                "eval.max_class_recall_drop=1", "eval.confidence=0.5", "data.min_images_per_class=3",
                "validation.near_duplicate_hamming=3"]


HASH_SPLITS = [("train", 70), ("validation", 10), ("test", 20)]  # data.test_percent=20, the default 10% validation
GOLDEN_IMAGES = 6


def overrides(golden):
    return TINY + [f"data.golden_dir={golden}"]


def served(output):
    model_dir = os.path.join(output, "serving", "image_classifier")
    return sorted(int(n) for n in os.listdir(model_dir) if n.isdigit()) if os.path.isdir(model_dir) else []


def trained_spans(output, version):
    with open(os.path.join(output, "serving", "image_classifier", str(version), "assets.extra", "imgpipe.json")) as f:
        return json.load(f)["spans"]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("scheduled")
    data, output, golden = str(root / "data"), str(root / "output"), str(root / "golden")
    make_colour_folder(golden, per_class=GOLDEN_IMAGES // 3, size=16, seed=11)
    make_span_folders(data, ["round-1", "round-2"], per_class=10, size=16)
    first = run_local(build_config(overrides=overrides(golden)), data, output)
    first_versions = served(output)
    make_span_folders(data, ["round-3"], per_class=10, size=16)
    second = run_local(build_config(overrides=overrides(golden)), data, output)
    return {"data": data, "output": output, "golden": golden, "first": first, "first_versions": first_versions,
            "second": second}


def example_paths(output):
    """{split: [path feature]} of the newest run's Examples artifact."""
    from tfx.types import artifact_utils, standard_artifacts
    uris = glob.glob(os.path.join(output, "pipeline_root", "ImageExampleGen", "examples", "*"))
    examples = standard_artifacts.Examples()
    examples.uri = max(uris, key=lambda u: int(os.path.basename(u)))
    examples.split_names = artifact_utils.encode_split_names(
        [n[len("Split-"):] for n in os.listdir(examples.uri) if n.startswith("Split-")])
    return {split: [e.features.feature["path"].bytes_list.value[0].decode() for e in rows]
            for split, rows in read_splits(examples).items()}


def test_each_run_trains_on_the_newest_window_of_spans_and_records_it(sequence):
    first, second, output = sequence["first"], sequence["second"], sequence["output"]
    assert not first.error and not second.error, (first.error, second.error)
    assert first.data_spans == "spans 1-2 (round-1, round-2)"
    assert second.data_spans == "spans 2-3 (round-2, round-3)"
    assert "Data: spans 2-3 (round-2, round-3)" in format_summary(second)
    # Two spans of 30 images each, less round-1's test-hashed ones (judged in round-1's own run), plus golden.
    older_test = [p for p in glob.glob(os.path.join(sequence["data"], "round-1", "*", "*"))
                  if hash_split(os.path.relpath(p, sequence["data"]), HASH_SPLITS) == "test"]
    assert older_test and first.split_sizes["golden"] == GOLDEN_IMAGES
    assert sum(first.split_sizes.values()) == 60 - len(older_test) + GOLDEN_IMAGES
    (v1,) = sequence["first_versions"]
    assert trained_spans(output, v1) == [1, 2]
    v1_again, v2 = served(output)
    assert v1_again == v1 and trained_spans(output, v2) == [2, 3]
    assert second.pushed_path.endswith(str(v2))


def test_the_report_shows_the_config_the_run_used_in_every_section(sequence):
    """--set values of the data, eval and validation sections, as the run used them (the report is
    rendered once, inside the pipeline, from the whole config, then given the run's times)."""
    first = sequence["first"]
    with open(first.report_path, encoding="utf-8") as f:
        page = html.unescape(f.read())
    for shown in ('"span_pattern": "round-{SPAN}"', '"window_spans": 2', f'"golden_dir": "{sequence["golden"]}"',
                  '"min_accuracy": 0.0', '"confidence": 0.5', '"near_duplicate_hamming": 3', '"warm_start": true'):
        assert shown in page, shown
    assert f"<title>imgpipe run {first.run_id}</title>" in page and "<th>component</th>" in page
    assert "Not available inside the pipeline" not in page


def test_the_gate_judges_the_newest_span_and_the_golden_set_which_is_never_trained_on(sequence):
    paths = example_paths(sequence["output"])  # the second run's: window round-2, round-3
    assert paths["test"] and all(p.startswith("round-3/") for p in paths["test"])
    assert sorted(paths["golden"]) == sorted(
        os.path.relpath(p, os.path.dirname(sequence["golden"]))
        for p in glob.glob(os.path.join(sequence["golden"], "*", "*")))
    trained_on = paths["train"] + paths["validation"]  # the Trainer's splits (TrainArgs, EvalArgs)
    assert trained_on and not any(p.startswith("golden/") for p in trained_on)
    second = sequence["second"]
    assert second.split_sizes["train"] + second.split_sizes["validation"] == len(trained_on)
    assert second.golden["images"] == GOLDEN_IMAGES and second.golden["served"] is not None
    assert f"Golden set: accuracy {second.golden['accuracy']:.3f} ({GOLDEN_IMAGES} images), served model " \
        in format_summary(second)
    assert sequence["first"].golden["served"] is None  # nothing was served yet
    from pipeline.history.model_card import read_card
    from pipeline.history.run_record import open_store, read_run_record
    record = read_run_record(open_store(os.path.join(sequence["output"], "metadata.sqlite")), "imgpipe", second.run_id)
    card = read_card(record)  # the model card: golden set and served model beside the candidate, the spans read
    evaluation = card["json"]["evaluation"]
    assert evaluation["golden"] == second.golden and set(evaluation["splits"]) == {"test", "golden"}
    assert evaluation["served_accuracy"] == second.baseline_accuracy
    assert evaluation["served_model"] == second.baseline_source
    assert card["json"]["data"]["spans"] == second.data_spans and "round-3" in second.data_spans
    golden_line = f"Golden set: accuracy {second.golden['accuracy']:.3f} ({GOLDEN_IMAGES} images), served model"
    assert golden_line in card["markdown"]


def test_warm_start_starts_from_the_served_model_once_there_is_one(sequence):
    assert sequence["first"].training["start"] == "cold start: no model is served yet"
    start = sequence["second"].training["start"]
    assert start.startswith("warm start from the served model ") and "ServedModelBaseline" in start


def test_a_run_with_no_new_span_stops_in_seconds_and_pushes_nothing(sequence):
    output, before = sequence["output"], served(sequence["output"])
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--data", sequence["data"], "--output", output,
                             *[a for o in overrides(sequence["golden"]) for a in ("--set", o)]],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert f"No new data since span 3, served by version {before[-1]}" in result.stdout
    assert elapsed < 15 and "Running pipeline" not in result.stdout
    assert served(output) == before


def test_inside_the_pipeline_nothing_new_skips_every_step_after_the_check(sequence):
    """What a scheduled Kubeflow run does (no pre-flight there): NewDataCheck answers 0, the Cond skips the rest.

    run_local goes straight to the pipeline, as the compiled spec does; LocalDagRunner evaluates the same Cond.
    """
    output, before = sequence["output"], served(sequence["output"])
    summary = run_local(build_config(overrides=overrides(sequence["golden"])), sequence["data"], output)
    assert summary.error == "" and [c.component for c in summary.components] == ["NewDataCheck"]
    assert summary.nothing_new == f"No new data since span 3, served by version {before[-1]}"
    assert summary.pushed_path == "" and served(output) == before
    assert "nothing to train on, nothing pushed" in format_summary(summary)
    again = run_local(build_config(overrides=overrides(sequence["golden"])), sequence["data"], output)
    # nothing changed, so the check's answer is reused (it is keyed on the data and the served model)
    assert [(c.component, c.state) for c in again.components] == [("NewDataCheck", "cached")]
    assert again.nothing_new == summary.nothing_new and served(output) == before


def test_a_drifted_span_is_blocked_before_training_and_the_served_model_is_untouched(sequence, tmp_path, capsys):
    data = str(tmp_path / "data")  # a copy: the sequence's own data root keeps round-3 as its newest span
    shutil.copytree(sequence["data"], data)
    make_span_folders(data, ["round-4"], per_class=10, size=40)
    serving = os.path.join(sequence["output"], "serving")
    before, digest = served(sequence["output"]), tree_digest(serving)
    code = cli.main(["run", "--data", data, "--output", sequence["output"]]
                    + [a for o in overrides(sequence["golden"]) for a in ("--set", o)])
    out = capsys.readouterr().out
    assert code == EXIT_FAILED, out
    assert "ImageValidationError" in out and "BLOCKING [size_drift]" in out and "Data: spans 3-4" in out
    assert re.search(r"^\[\d+/\d+\] ImageDataValidator \.\.\. [\d.]+ s failed$", out, re.M), out
    assert not re.search(r"^\s+(Transform|Trainer|Evaluator|Pusher)\s", out, re.M) and "Pushed model: none" in out
    assert served(sequence["output"]) == before and tree_digest(serving) == digest
    check_blocked_report(re.search(r"^Report: (.+)$", out, re.M).group(1), tmp_path)


def check_blocked_report(path, tmp_path):
    """A blocked run's report reads as well as a good one's: nothing runs off the page, the new batch's
    samples beside the previous one's, and the served model not judged (rather than "none")."""
    facts = check_page(path, str(tmp_path), str(tmp_path / "blocked.png"))
    assert not facts["page_overflows"] and facts["wide_blocks"] == 0 and not facts["errors"], facts
    with open(path, encoding="utf-8") as f:
        page = html.unescape(f.read())
    assert "BLOCKING [size_drift]" in page
    assert page.index("Samples per class: newest batch round-4") < page.index("Samples per class: previous batch round-3")
    assert "not judged: the run stopped before the Evaluator" in page and "no served model to compare with" not in page
