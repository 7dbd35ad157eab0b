"""End to end: the real pipeline (LocalDagRunner, Beam DirectRunner, SQLite MLMD) on tiny data.

Five runs share one output folder, as a user's successive runs would:
1. a good run (no served model yet: the floors alone decide) is blessed and
   pushes a model that classifies held-out images through both serving signatures;
   the same run again is cached (run.enable_cache) and pushes no duplicate;
2. after one image is rewritten in place, a run that cannot meet the bar is not blessed, pushes nothing, leaves the
   served model byte-for-byte as it was, and makes --fail-if-not-blessed exit 3; it runs Beam's
   multi-process DirectRunner (2 workers), the suite's one run in that mode;
3. the same hopeless model forced through with a reason: pushed, the reason
   read back from ML Metadata into the summary;
4. a run whose data violates the schema stops before Transform and training.
Beside them, the good run again on Beam's portable runner (a job server and a worker pool started here)
into a folder of its own: the same splits, statistics and verdict, the Beam work done in the pool.
The gate's other verdicts (better, clearly worse, one class collapsing) run the
real Evaluator on scripted SavedModels in test_evaluation_gate.py.
"""
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from typing import Iterator, List

import pytest
import tensorflow as tf

from components.trainer.warmup import read_warmup
from pipeline import cli
from pipeline.local.cli import run_exit_code
from pipeline.exit_codes import EXIT_NOT_BLESSED, EXIT_OK
from pipeline.local.runner import run_local
from pipeline.history.report.component import REPORT_FILE
from pipeline.history.report.render import SECTIONS
from pipeline.history.run_record import open_store, read_run_record
from pipeline.history.summary import format_summary, read_run_summary
from components.image_example_gen import spec as gen_spec
from schemas import features
from schemas.config import build_config
from tests.browser import check_page
from tests.beam_probe.sitecustomize import read_bundles, recording
from tests.beam_servers import beam_servers
from tests.fixtures import (COLOUR_CLASSES, FAST, encoded_colour_image, make_colour_folder, report_facts, split_paths,
                            split_statistics, tree_digest)

ALL_COMPONENTS = {"ImageExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataGate",
                  "ImageDataValidator", "Transform", "Trainer", "ServedModelBaseline", "Evaluator", "InfraCheck",
                  "ModelCard", "Pusher", "OnDeviceModel", "RunReport"}
# Beam's multi-process DirectRunner (docs/scaling.md); the cache keys hold the Beam args, so the forced run shares them.
MULTI_PROCESS = ['run.beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"]']
HOPELESS = FAST + ["train.epochs=1", "train.learning_rate=1e-9"] + MULTI_PROCESS
BEAM_COMPONENTS = ("ImageExampleGen", "StatisticsGen", "ImageDataValidator", "Evaluator")
RUNS_AND_MODULES = """
import sys
from pipeline.cli import main
main(["runs", "--output", sys.argv[1]])
print(sorted(m for m in ("tensorflow", "tfx", "tensorflow_model_analysis") if m in sys.modules))
"""
# The first run leaves data.image_size at its default (auto): the 20 px fixture chooses it.
AUTO_SIZE_FAST = [o for o in FAST if not o.startswith("data.image_size=")]


def served_versions(output: str) -> list:
    model_dir = os.path.join(output, "serving", "image_classifier")
    return sorted(n for n in os.listdir(model_dir) if n.isdigit()) if os.path.isdir(model_dir) else []


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
    return run_local(build_config(overrides=AUTO_SIZE_FAST), workspace["data"], workspace["output"],
                     progress=workspace["progress"])


def test_a_good_run_runs_every_component_and_pushes_a_blessed_model(first_run, workspace):
    assert first_run.error == ""
    assert {c.component for c in first_run.components} == ALL_COMPONENTS
    assert all(c.state == "complete" for c in first_run.components)
    assert first_run.blessed is True and first_run.accuracy >= 0.9, format_summary(first_run)
    assert set(first_run.class_accuracy) == set(COLOUR_CLASSES)
    assert first_run.baseline_accuracy is None  # first run: floor only
    assert set(first_run.split_sizes) == {"train", "validation", "test"}
    assert sum(first_run.split_sizes.values()) == 90 and first_run.split_sizes["test"] >= 3
    assert "no served model yet, so the floors alone decide" in first_run.gate_sentence
    assert run_exit_code(first_run, fail_if_not_blessed=True) == EXIT_OK
    (version,) = served_versions(workspace["output"])
    assert first_run.pushed_path.rstrip("/").endswith(os.path.join("image_classifier", version))
    assert os.path.isfile(os.path.join(first_run.pushed_path, "saved_model.pb"))
    summary = format_summary(first_run).splitlines()
    sizes = first_run.split_sizes
    assert f"Splits: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']} images" in summary
    assert f"Gate: {first_run.gate_sentence}" in summary
    assert any(line.startswith("Data warning: [small_test_split] the test split is too small") for line in summary)
    assert any(line.startswith("Small data: class ") and "model.backbone=" in line for line in summary)  # ~24 per class
    assert summary[-5].startswith("Infra check: passed (fresh-process load ")
    tflite = os.path.join(workspace["output"], "serving", "image_classifier-tflite", version)
    assert summary[-4].startswith("TFLite: float ") and summary[-4].endswith(f": pushed to {tflite}")
    assert sorted(os.listdir(tflite)) == ["assets.extra", "labels.txt", "model.tflite", "model_int8.tflite",
                                          "preprocessing.json"]
    assert summary[-3] == "Blessed: yes"
    assert summary[-2] == f"Test accuracy: {first_run.accuracy:.4f}"
    assert "Image size: 28 px (data.image_size=auto from the median short side 20 px)" in summary
    assert ("Training: kept epoch 12 of 12 (the last epoch (early stopping off: train.early_stopping_patience=0)"
            in "\n".join(summary))
    assert summary[-1] == f"Pushed model: {first_run.pushed_path}"
    assert_pushed_with_its_model_card(first_run)


def assert_pushed_with_its_model_card(run) -> None:
    """The card is in the version's assets.extra, under its manifest, with the figures the Evaluator recorded."""
    from components.pusher.integrity import verify_version
    extra = os.path.join(run.pushed_path, "assets.extra")
    with open(os.path.join(extra, "model_card.json"), encoding="utf-8") as f:
        card = json.load(f)
    with open(os.path.join(extra, "manifest.sha256"), encoding="utf-8") as f:
        manifest = f.read()
    assert "  assets.extra/model_card.json\n" in manifest and "  assets.extra/model_card.md\n" in manifest
    assert verify_version(run.pushed_path) == []
    assert card["model"]["classes"] == sorted(COLOUR_CLASSES) and card["model"]["name"] == "image_classifier"
    evaluation = card["evaluation"]
    assert evaluation["accuracy"] == run.accuracy and evaluation["served_accuracy"] is None
    assert {c: p["recall"] for c, p in evaluation["per_class"].items()} == pytest.approx(run.class_accuracy)
    assert sum(p["support"] for p in evaluation["per_class"].values()) == run.split_sizes["test"]
    assert evaluation["gate"]["sentence"] == run.gate_sentence and evaluation["gate"]["blessed"] is True
    assert {s: sum(c.values()) for s, c in card["data"]["images_per_class"].items()} == run.split_sizes
    assert card["data"]["image_sizes"]["trained_px"] == run.image_size and card["data"]["quarantined"]["count"] == 0
    assert card["training"]["kept_epoch"] == run.training["kept_epoch"] and card["training"]["seed"] == 42
    assert run.small_data in card["limitations"] and any("[small_test_split]" in x for x in card["limitations"])
    with open(os.path.join(extra, "model_card.md"), encoding="utf-8") as f:
        text = f.read()
    assert all(f"| {name} | " in text for name in COLOUR_CLASSES) and run.gate_sentence in text


def test_image_size_auto_is_chosen_from_the_data_and_recorded_in_the_run_and_the_model(first_run):
    """The fixture's images are 20 px: auto keeps 20 (a multiple of 4), raised to the floor
    data.image_size_auto_min=28 (1.4x: not reported), recorded by Transform and beside the SavedModel."""
    assert (first_run.image_size, first_run.image_size_source, first_run.median_short_side) == (28, "auto", 20)
    assert first_run.resize_note == ""
    with open(os.path.join(first_run.pushed_path, "assets.extra", "imgpipe.json")) as f:
        facts = json.load(f)
    assert facts["image_size"] == 28
    assert facts["training"]["epochs_run"] == first_run.training["epochs_run"] == 12
    assert facts["training"]["stopped_because"] == "reached train.epochs=12"
    assert facts["training"]["input"].endswith("cached in memory (train.cache_max_mb=2048)")  # input_cache.py
    model = tf.saved_model.load(first_run.pushed_path)
    assert model.signatures[features.BYTES_SIGNATURE](
        **{features.BYTES_INPUT: tf.constant([encoded_colour_image("red", size=64)])})[
        features.PROBABILITIES_OUTPUT].shape == (1, 3)  # any input size is resized to the recorded 28 px


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
    with open(os.path.join(first_run.pushed_path, "assets", gen_spec.LABELS_FILE)) as f:
        assert f.read().split() == names


def test_the_pushed_version_carries_warmup_and_passed_the_infra_check(first_run, workspace):
    """8 warmup requests: serving.warmup_images (4) eval images through each of the two signatures."""
    warmup = read_warmup(first_run.pushed_path)
    assert [signature for signature, _ in warmup] == [features.EXAMPLES_SIGNATURE, features.BYTES_SIGNATURE] * 4
    check = first_run.infra_check
    assert check["blessed"] is True and check["problems"] == [] and check["requests"] == 8
    assert check["load_seconds"] > 0 and 0 < check["latency_ms_p50"] <= check["latency_ms_max"]
    version = os.path.basename(first_run.pushed_path)
    with open(os.path.join(workspace["output"], "serving", "image_classifier", "models.config")) as f:
        assert f'key: "stable" value: {version}' in f.read()


# Beam's portable runner (docs/scaling.md#the-portable-runner): each Beam component and a transform only it runs.
BEAM_WORK = {"ImageExampleGen": "InspectImage", "StatisticsGen": "GenerateStatistics",
             "ImageDataValidator": "Facts[train]", "Evaluator": "ExtractEvaluateAndWriteResults"}


def test_on_beams_portable_runner_the_beam_work_runs_in_the_worker_pool_and_the_result_is_the_same(
        first_run, workspace, tmp_path):
    """`imgpipe run --beam-runner portable` against a job server and an EXTERNAL worker pool started from this
    environment (tests/beam_servers.py): every Beam component's bundles run in the pool's processes and none
    in this one, the `imgpipe` process; the splits, statistics and verdict are the in-memory run's."""
    probe, here, output = str(tmp_path / "probe"), str(tmp_path / "imgpipe"), str(tmp_path / "portable")
    for folder in (probe, here):
        os.makedirs(folder)
    sets = [a for o in AUTO_SIZE_FAST for a in ("--set", o)]
    with beam_servers(str(tmp_path), probe_dir=probe) as servers, recording(here):
        code = cli.main(["run", "--data", workspace["data"], "--output", output, "--quiet", *sets, "--beam-runner",
                         "portable", "--job-endpoint", servers["job"], "--worker-pool", servers["pool"]])
    portable = read_run_summary(os.path.join(output, "metadata.sqlite"), "imgpipe")
    assert code == EXIT_OK and portable.error == "", format_summary(portable)
    assert os.path.isfile(os.path.join(portable.pushed_path, "saved_model.pb"))
    bundles = read_bundles(probe)
    assert bundles and {b["ppid"] for b in bundles} == {servers["pool_pid"]}
    for component, transform in BEAM_WORK.items():
        assert [b for b in bundles if any(transform in name for name in b["transforms"])], component
    assert read_bundles(here) == []  # the imgpipe process ran no bundle itself
    assert (portable.split_sizes, portable.blessed) == (first_run.split_sizes, first_run.blessed is True)
    assert portable.gate_sentence.split(";")[-1] == first_run.gate_sentence.split(";")[-1]
    for node, kind, read in (("ImageExampleGen", "Examples", split_paths),
                             ("StatisticsGen", "ExampleStatistics", split_statistics)):
        uris = [read_run_record(open_store(os.path.join(out, "metadata.sqlite")), "imgpipe", run_id).outputs(
            node, kind)[0].uri for out, run_id in ((workspace["output"], first_run.run_id), (output, portable.run_id))]
        assert read(uris[0]) == read(uris[1]), node


# Caching (run.enable_cache, default true): what is always run again, whatever changed.
# OnDeviceModel reads the Pusher's new PushedModel, so it runs whenever the Pusher does (and builds nothing unpushed).
ALWAYS_RUN = {"ServedModelBaseline", "ImageDataValidator", "Evaluator", "ModelCard", "Pusher", "OnDeviceModel",
              "RunReport"}


def cached(summary) -> set:
    """The components ML Metadata records as reused from an earlier execution in this run."""
    return {c.component for c in summary.components if c.state == "cached"}


def test_an_unchanged_rerun_reuses_every_result_and_pushes_no_duplicate_version(first_run, workspace):
    """The baseline and the image validator read state outside the pipeline and always run; the gate's
    candidate is the served model, so the first run's verdict is reused without TFMA: nothing is pushed."""
    serving = os.path.join(workspace["output"], "serving")
    before = tree_digest(serving)
    rerun = run_local(build_config(overrides=AUTO_SIZE_FAST), workspace["data"], workspace["output"])
    assert rerun.error == "" and rerun.run_id != first_run.run_id
    assert cached(rerun) == ALL_COMPONENTS - ALWAYS_RUN
    assert {c.component for c in rerun.components if c.state == "complete"} == ALWAYS_RUN
    assert rerun.blessed is True and rerun.accuracy == first_run.accuracy
    assert rerun.baseline_source == first_run.pushed_path and rerun.pushed_path == ""
    assert rerun.already_served == first_run.pushed_path
    assert tree_digest(serving) == before
    assert (f"Evaluator: not run again (candidate byte-identical to served version {os.path.basename(first_run.pushed_path)}"
            f", same test examples and eval settings): verdict reused from run {first_run.run_id}") in format_summary(rerun)
    assert format_summary(rerun).splitlines()[-1] == (
        f"Pushed model: none, the candidate is the served model already ({first_run.pushed_path})")
    assert format_summary(rerun).splitlines()[-4] == (
        f"TFLite: NOT pushed: the SavedModel was not pushed ({first_run.pushed_path} is served already)")
    assert rerun.pipeline_seconds < first_run.pipeline_seconds
    # Same candidate, same test images: the report takes the first report's mistakes and explanations
    # (pipeline/history/report/reuse.py) instead of loading the model and predicting again.
    reports = os.path.join(workspace["output"], "pipeline_root", "RunReport", "report")
    first_report = os.path.join(reports, min(os.listdir(reports), key=int))
    pages, published = [], []
    for path in (first_run.report_path, rerun.report_path):
        with open(path, encoding="utf-8") as f:
            published.append(f.read())
            pages.append(re.search(r'<section id="evaluation">.*?</section>', published[-1], flags=re.S).group(0))
    # Rendered once: the re-run's published page is its RunReport's page with the run's own fields filled in.
    with open(os.path.join(reports, max(os.listdir(reports), key=int), REPORT_FILE), encoding="utf-8") as f:
        in_pipeline = f.read()
    unmarked = [re.sub(r"<title>.*?</title>|<!--([a-z-]+)-->.*?<!--/\1-->", "", p, flags=re.S)
                for p in (in_pipeline, published[1])]
    assert unmarked[0] == unmarked[1] and f"<!--run-id-->{rerun.run_id}<!--/run-id-->" in published[1]
    assert f"computed for the report at <code>{first_report}</code>" in pages[1]
    assert "computed for this report" in pages[0]
    figures = [set(re.findall(r"<figure>.*?</figure>", page, flags=re.S)) for page in pages]
    assert figures[0] and figures[0] <= figures[1]  # every mistake and explanation, picture for picture


def rewrite_in_place(path: str, colour: str) -> None:
    """Another image of the same class under the same name, the folder's mtime put back: only the file
    changed, which TFX's own ExampleGen fingerprint (the class folders) does not see."""
    folder = os.path.dirname(path)
    folder_times = (os.stat(folder).st_atime_ns, os.stat(folder).st_mtime_ns)
    with open(path, "wb") as f:
        f.write(encoded_colour_image(colour, seed=123))
    os.utime(folder, ns=folder_times)


@contextlib.contextmanager
def beam_worker_sightings(every: float = 0.2) -> Iterator[List[float]]:
    """Epoch ms of each poll that found a Beam SDK worker process (multi_processing mode) under this one."""
    import psutil
    seen, stop, me = [], threading.Event(), psutil.Process()

    def poll() -> None:
        while not stop.wait(every):
            for child in me.children(recursive=True):
                try:
                    if "apache_beam.runners.worker.sdk_worker_main" in child.cmdline():
                        seen.append(time.time() * 1000)
                        break
                except psutil.Error:  # ended between the listing and the read
                    continue
    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


def test_a_model_below_the_bar_is_not_pushed_and_the_served_model_is_untouched(first_run, workspace):
    """Also the suite's one run on the multi-process DirectRunner: every component runs again here anyway."""
    before = tree_digest(os.path.join(workspace["output"], "serving"))
    rewrite_in_place(os.path.join(workspace["data"], "red", "red_001.png"), "red")
    with beam_worker_sightings() as seen:
        second = run_local(build_config(overrides=HOPELESS), workspace["data"], workspace["output"])
    assert second.error == ""
    assert cached(second) == set()  # one image rewritten in place: ingested again, and all that follows
    record = read_run_record(open_store(os.path.join(workspace["output"], "metadata.sqlite")), "imgpipe",
                             second.run_id)
    for name in BEAM_COMPONENTS:  # each ran its Beam pipeline in worker processes, not in this one
        node = record.node(name)
        assert any(node.started_ms <= t <= node.started_ms + node.seconds * 1000 for t in seen), name
    assert second.blessed is False and second.pushed_path == ""
    assert run_exit_code(second, fail_if_not_blessed=True) == EXIT_NOT_BLESSED
    assert run_exit_code(second, fail_if_not_blessed=False) == EXIT_OK
    assert f"on {second.split_sizes['test']} test images" in second.gate_sentence
    assert second.gate_sentence.startswith("candidate ") and " vs served " in second.gate_sentence
    assert second.gate_sentence.endswith(": not blessed") and not second.forced
    assert second.baseline_accuracy is not None and second.baseline_accuracy >= 0.9
    assert second.baseline_source.endswith(served_versions(workspace["output"])[0])
    assert served_versions(workspace["output"]) == [os.path.basename(first_run.pushed_path)]
    assert tree_digest(os.path.join(workspace["output"], "serving")) == before
    summary = format_summary(second).splitlines()
    assert summary[-3].startswith("Blessed: NO") and summary[-1] == "Pushed model: none"
    served = report_facts(workspace["output"], second.run_id)["evaluation"]["confusion"]["served"]
    assert sum(served[i][i] for i in range(3)) / sum(map(sum, served)) == pytest.approx(second.baseline_accuracy)


def test_a_forced_push_goes_through_and_its_reason_is_read_back_from_metadata(first_run, workspace):
    reason = "served model trained on mislabeled data"
    forced = run_local(build_config(overrides=HOPELESS + ["eval.force_bless=true", f"eval.force_reason={reason}"]),
                       workspace["data"], workspace["output"])
    assert forced.error == "" and forced.forced and forced.force_reason == reason
    assert cached(forced) == ALL_COMPONENTS - ALWAYS_RUN  # only eval.* changed: the same model is judged again
    assert forced.blessed is True and forced.gate_sentence.endswith(": not blessed")
    assert len(served_versions(workspace["output"])) == 2 and forced.pushed_path
    summary = format_summary(forced).splitlines()
    assert f"Forced push (eval.force_bless): {reason}" in summary
    assert summary[-3].startswith("Blessed: yes, forced")
    assert run_exit_code(forced, fail_if_not_blessed=True) == EXIT_OK


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
    ends = [re.fullmatch(r"\[(\d+)/15\] (\w+) \.\.\. (\d+\.\d) s", line) for line in lines]
    assert {m.group(2) for m in ends if m} == ALL_COMPONENTS
    assert [int(m.group(1)) for m in ends if m] == list(range(1, 16))
    assert sum(line.startswith("      Epoch ") for line in lines) == 12
    assert any(line.startswith("      Epoch 12/12: loss ") and "val_accuracy" in line for line in lines)


def test_the_report_of_a_good_run_holds_the_runs_own_numbers(first_run, workspace):
    assert first_run.report_path.endswith(".html") and os.path.isfile(first_run.report_path)
    facts = report_facts(workspace["output"], first_run.run_id)
    data = facts["data"]
    assert data["splits"] == ["train", "validation", "test"]
    for name in COLOUR_CLASSES:  # 30 images per class, every one in exactly one split
        assert sum(data["counts"][split][name] for split in data["splits"]) == 30
    assert {s: sum(c.values()) for s, c in data["counts"].items()} == first_run.split_sizes
    assert len(data["sizes"]) == 90 and set(data["sizes"]) == {(20, 20)}
    assert data["batches"] == [] and sorted(data["thumbnails"][""]) == sorted(COLOUR_CLASSES) and data["quarantine"] == []
    gate = facts["decision"]["gate"]
    assert gate["sentence"] == first_run.gate_sentence and not gate["has_baseline"]
    assert {n: c["candidate_recall"] for n, c in gate["classes"].items()} == first_run.class_accuracy
    evaluation = facts["evaluation"]
    assert evaluation["split"] == "test" and "served" not in evaluation["confusion"]  # nothing served yet
    cells = evaluation["confusion"]["candidate"]
    assert sum(map(sum, cells)) == first_run.split_sizes["test"]
    assert sum(cells[i][i] for i in range(3)) / sum(map(sum, cells)) == pytest.approx(first_run.accuracy)
    assert len(evaluation["mistakes"]) == min(8, sum(map(sum, cells)) - sum(cells[i][i] for i in range(3)))
    assert all(m["true"] != m["predicted"] for m in evaluation["mistakes"])
    training = facts["training"]
    assert training["epochs_run"] == 12 and len(training["per_epoch"]) == len(training["epoch_seconds"]) == 12
    assert training["early_stopping"] is None  # train.early_stopping_patience=0
    rows = facts["augmentation"]["rows"]
    size = first_run.image_size  # data.image_size=auto chose it (28): the preview is at the trained size
    assert len(rows) == 3 and all(len(r["augmented"]) == 5 and r["original"].shape == (size, size, 3) for r in rows)
    assert facts["run"]["data_root"] == workspace["data"]
    with open(os.path.join(first_run.pushed_path, "assets.extra", "model_card.json"), encoding="utf-8") as f:
        assert facts["model_card"]["json"] == json.load(f)  # the report shows the card that was pushed
    explained = evaluation["explanations"]  # Grad-CAM: the mistakes, then one right answer per class
    assert [e["path"] for e in explained if e["kind"] == "mistake"] == [m["path"] for m in evaluation["mistakes"]]
    right = [e for e in explained if e["kind"] == "right"]
    assert sorted(e["true"] for e in right) == sorted(COLOUR_CLASSES) and all(e["true"] == e["predicted"] for e in right)
    summary = format_summary(first_run).splitlines()
    assert first_run.training_logdir and f"TensorBoard: tensorboard --logdir {first_run.training_logdir}" in summary
    assert f"Report: {first_run.report_path}" in summary


def test_the_report_opens_in_a_browser_with_every_section_and_picture(first_run, tmp_path):
    seen = check_page(first_run.report_path, str(tmp_path), str(tmp_path / "report.png"))
    assert seen["sections"] == [key for key, _ in SECTIONS] and seen["unavailable"] == []
    assert len(seen["images"]) > 20 and all(i["ok"] and i["inline"] for i in seen["images"]), seen["images"]
    assert seen["errors"] == [] and seen["console_errors"] == [] and seen["external"] == 0
    heatmaps = [i["alt"] for i in seen["images"] if i["alt"].startswith("Grad-CAM: predicted ")]
    assert len(heatmaps) >= len(COLOUR_CLASSES)  # one right answer per class, plus any mistakes
    with open(first_run.report_path, encoding="utf-8") as f:
        page = f.read()
    card = page[page.index('<section id="model_card">'):page.index('<section id="run">')]
    assert "<h3>Model card: image_classifier</h3>" in card and all(f"<td>{c}</td>" in card for c in COLOUR_CLASSES)


def test_the_runreport_component_wrote_the_report_into_its_artifact(first_run, workspace):
    folder = os.path.join(workspace["output"], "pipeline_root", "RunReport", "report")
    first = min(os.listdir(folder), key=int)  # execution ids grow; later runs of this module add folders
    with open(os.path.join(folder, first, REPORT_FILE), encoding="utf-8") as f:
        page = f.read()
    assert all(f'<section id="{key}">' in page for key, _ in SECTIONS)
    assert "Not available inside the pipeline" in page and "Blessed" in page
    # The local run rendered it once: its report is this page with only the run id, start and times filled in.
    with open(first_run.report_path, encoding="utf-8") as f:
        published = f.read()
    unmarked = [re.sub(r"<title>.*?</title>|<!--([a-z-]+)-->.*?<!--/\1-->", "", p, flags=re.S) for p in (page, published)]
    assert unmarked[0] == unmarked[1] and published != page
    assert f"<!--run-id-->{first_run.run_id}<!--/run-id-->" in published and "<th>component</th>" in published
    digests = os.path.join(workspace["output"], "pipeline_root", "RunReport", "digest")
    with open(os.path.join(digests, min(os.listdir(digests), key=int), "value"), encoding="utf-8") as f:
        digest = f.read()  # the Kubeflow UI's Markdown digest: locally too one file, TFX's ValueArtifact `value`
    assert digest.startswith("# Blessed\n") and f"**Gate:** {first_run.gate_sentence}" in digest
    assert f"Pushed: `{first_run.pushed_path}`" in digest and all(f"| {c} | " in digest for c in COLOUR_CLASSES)


def test_imgpipe_runs_lists_each_run_with_its_verdict_without_loading_tensorflow(first_run, workspace):
    listing = subprocess.run([sys.executable, "-c", RUNS_AND_MODULES, workspace["output"]], capture_output=True,
                             text=True, timeout=60)
    *lines, heavy = listing.stdout.strip().splitlines()
    assert heavy == "[]", heavy  # MLMD alone: no TFX, TensorFlow or TFMA import
    header, *rows = lines
    assert header.split()[:3] == ["when", "run", "data"]
    assert len(rows) == 5  # blessed, unchanged re-run, below the bar, forced through, stopped by the schema
    assert "  blessed  " in rows[0] and f"  {os.path.basename(first_run.pushed_path)}  " in rows[0]
    assert f"  {first_run.accuracy:.4f}  " in rows[0] and "  90  " in rows[0]
    assert "  blessed  " in rows[1] and f"  {os.path.basename(first_run.pushed_path)}  " not in rows[1]
    assert "  not blessed  " in rows[2] and "  blessed (forced)  " in rows[3] and "stopped at DataGate" in rows[4]
    assert first_run.report_path in rows[0] and workspace["data"] in rows[0]


def test_imgpipe_report_finds_the_newest_report(first_run, workspace, capsys):
    assert cli.main(["report", workspace["output"]]) == EXIT_OK
    path = capsys.readouterr().out.strip()[len("Report: "):]
    assert os.path.isfile(path) and path != first_run.report_path  # the newest run is the schema-stopped one
