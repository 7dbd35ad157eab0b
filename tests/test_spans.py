"""Data roots of batches (data.span_pattern): which spans a run reads, checked against TFX's own driver;
one run per output folder; a run with no new span stops in seconds. No pipeline runs here
(the span sequence through the whole pipeline is in test_pipeline_e2e.py)."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from components.image_example_gen import ImageFolderError
from components.image_example_gen.eval_sets import hash_split
from components.image_example_gen.spans import list_span_folders, scan_span_folders, select_window
from components.new_data.check import nothing_new, served_spans
from schemas.config import ConfigError, build_config
from tests.fixtures import SPLITS, make_colour_folder, make_span_folders, read_splits, run_example_gen, save_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def folders(root, *names):
    for name in names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    return str(root)


@pytest.mark.parametrize("pattern, problem", [
    ("round-{SPN}", "unknown token {SPN}"),
    ("round", "needs {SPAN} or {YYYY}-{MM}-{DD}"),
    ("{YYYY}-{MM}", "a date needs all of"),
    ("{SPAN}-{YYYY}-{MM}-{DD}", "exclude each other"),
    ("batches/{SPAN}", "no '/'"),
    ("r{SPAN}-{SPAN}", "more than once"),
])
def test_a_bad_span_pattern_is_one_line_naming_the_key_and_the_allowed_tokens(pattern, problem):
    with pytest.raises(ConfigError) as error:
        build_config(overrides=[f"data.span_pattern={pattern}"])
    message = str(error.value)
    assert "\n" not in message and "data.span_pattern" in message and problem in message
    assert "{SPAN}" in message and "{YYYY} {MM} {DD}" in message and "{VERSION}" in message


def test_a_window_without_a_span_pattern_is_refused():
    with pytest.raises(ConfigError, match="data.window_spans"):
        build_config(overrides=["data.window_spans=3"])
    assert build_config(overrides=["data.window_spans=3", "data.span_pattern=round-{SPAN}"]).data.window_spans == 3


@pytest.mark.parametrize("pattern, names, newest", [
    ("round-{SPAN}", ["round-1", "round-2", "round-10", "other", "old-round-9"], "round-10"),
    ("day={YYYY}-{MM}-{DD}", ["day=2026-11-25", "day=2026-11-27", "day=2026-11-26"], "day=2026-11-27"),
    ("b{SPAN:3}-v{VERSION}", ["b001-v1", "b002-v1", "b002-v3", "b002-v2"], "b002-v3"),
])
def test_the_newest_span_is_the_one_tfx_s_driver_resolves(tmp_path, pattern, names, newest):
    """Our pure-Python listing (for the CLI, without TFX) and TFX's own span machinery agree."""
    from tfx.components.example_gen import utils
    from tfx.proto import example_gen_pb2

    root = folders(tmp_path, *names)
    for name in names:
        open(os.path.join(root, name, "x"), "w").close()  # the driver globs <span folder>/*
    split = example_gen_pb2.Input.Split(name="images", pattern=f"{pattern}/*")
    _, tfx_span, tfx_version = utils.calculate_splits_fingerprint_span_and_version(root, [split])
    ours = list_span_folders(root, pattern)[-1]
    assert (ours.name, ours.span, ours.version) == (newest, tfx_span, tfx_version)
    assert split.pattern == f"{newest}/*"


@pytest.mark.parametrize("pattern, bad", [("round-{SPAN}", "round-x"), ("day={YYYY}-{MM}-{DD}", "day=2026-13-01")])
def test_a_folder_shaped_like_a_batch_without_a_valid_span_is_named_not_skipped(tmp_path, pattern, bad):
    """TFX's driver fails on it too, with a regex in the message: ours names the folder and the fix."""
    from tfx.components.example_gen import utils
    from tfx.proto import example_gen_pb2

    root = folders(tmp_path, bad, "round-1", "day=2026-11-25")
    for name in os.listdir(root):
        open(os.path.join(root, name, "x"), "w").close()
    with pytest.raises(ValueError):
        utils.calculate_splits_fingerprint_span_and_version(
            root, [example_gen_pb2.Input.Split(name="images", pattern=f"{pattern}/*")])
    with pytest.raises(ImageFolderError, match=f"folder {root}/{bad} looks like a batch of data.span_pattern=.*"
                                               "holds no valid span: rename it"):
        list_span_folders(root, pattern)


def test_the_window_is_the_newest_spans_up_to_the_one_asked_for(tmp_path):
    root = folders(tmp_path, "round-1", "round-2", "round-3", "round-5")
    assert [f.span for f in select_window(root, "round-{SPAN}", 2)] == [3, 5]
    assert [f.span for f in select_window(root, "round-{SPAN}", 7)] == [1, 2, 3, 5]
    assert [f.span for f in select_window(root, "round-{SPAN}", 2, span=2)] == [1, 2]
    with pytest.raises(ImageFolderError, match=r"no batch folder for span 4 .*spans found: 1, 2, 3, 5"):
        select_window(root, "round-{SPAN}", 1, span=4)
    with pytest.raises(ImageFolderError, match=r"no batch folder under .* matches data.span_pattern='day-\{SPAN\}'"
                                               r".*e\.g\. day-1"):
        select_window(root, "day-{SPAN}", 1)


def test_a_window_scan_keeps_the_span_folder_in_each_path_and_unites_the_classes(tmp_path):
    root = make_span_folders(str(tmp_path), ["round-1", "round-2"], per_class=2)
    save_image(tmp_path / "round-2" / "yellow" / "y.jpg", fmt="JPEG")
    scan = scan_span_folders(root, select_window(root, "round-{SPAN}", 2))
    assert scan.class_names == ["blue", "green", "red", "yellow"]
    paths = [f.rel_path for f in scan.files]
    assert "round-1/red/red_000.jpg" in paths and "round-2/red/red_000.jpg" in paths
    assert "round-2/yellow/y.jpg" in paths and len(paths) == 2 * 6 + 1


def test_tfx_s_driver_and_the_executor_ingest_the_newest_span_and_record_it(tmp_path):
    """LocalDagRunner/Vertex: the driver resolves round-3; the executor reads only that folder."""
    root = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2", "round-3"], per_class=4, size=8)
    examples = run_example_gen(root, tmp_path / "out", span_pattern="round-{SPAN}", driver=True)
    paths = {e.features.feature["path"].bytes_list.value[0].decode()
             for split in read_splits(examples).values() for e in split}
    assert len(paths) == 12 and all(p.startswith("round-3/") for p in paths)
    assert examples.get_int_custom_property("span") == 3
    assert json.loads(examples.get_string_custom_property("spans")) == [3]
    with open(os.path.join(examples.uri, "manifest.json")) as f:
        assert json.load(f)["spans"] == [3]


def test_without_a_driver_a_window_and_a_static_span_are_resolved_by_the_executor(tmp_path):
    """Open-source Kubeflow v2 runs no driver: `--span 2` with a window of 2 still reads rounds 1 and 2,
    and an image keeps its split whichever window it is read in (the hash is of its path)."""
    root = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2", "round-3"], per_class=4, size=8)
    examples = run_example_gen(root, tmp_path / "a", span_pattern="round-{SPAN}", window_spans=2, span=2)
    assert examples.get_int_custom_property("span") == 2
    assert json.loads(examples.get_string_custom_property("span_folders")) == ["round-1", "round-2"]
    split_of = {e.features.feature["path"].bytes_list.value[0].decode(): split
                for split, rows in read_splits(examples).items() for e in rows}
    # Round-1's test-hashed images were judged in round-1's own run: only the newest span makes the test split.
    older_test = [p for p in (os.path.relpath(f, root) for f in glob.glob(os.path.join(root, "round-1", "*", "*")))
                  if hash_split(p, [("train", 70), ("validation", 10), ("test", 20)]) == "test"]
    assert len(split_of) == 24 - len(older_test) and {p.split("/")[0] for p in split_of} == {"round-1", "round-2"}
    assert not set(older_test) & set(split_of)
    newer = run_example_gen(root, tmp_path / "b", span_pattern="round-{SPAN}", window_spans=2)
    again = {e.features.feature["path"].bytes_list.value[0].decode(): split
             for split, rows in read_splits(newer).items() for e in rows}
    shared = set(split_of) & set(again)
    assert shared and all(split_of[p] == again[p] for p in shared) and set(SPLITS) >= set(split_of.values())


# --------------------------------------------------------------------------- nothing new, without TFX

def fake_served_model(output, version, spans):
    """A served version as the Pusher leaves it, reduced to what the check reads."""
    path = os.path.join(output, "serving", "image_classifier", str(version))
    os.makedirs(os.path.join(path, "assets.extra"))
    open(os.path.join(path, "saved_model.pb"), "wb").close()
    with open(os.path.join(path, "assets.extra", "imgpipe.json"), "w") as f:
        json.dump({"spans": spans}, f)
    return os.path.dirname(path)


def test_nothing_new_is_judged_by_the_newest_span_the_served_model_was_trained_on(tmp_path):
    model_dir = fake_served_model(str(tmp_path), 1795000000, [1, 2])
    assert served_spans(model_dir) == (1795000000, [1, 2])
    root = folders(tmp_path / "data", "round-1", "round-2")
    assert nothing_new(select_window(root, "round-{SPAN}", 1), model_dir) == \
        "No new data since span 2, served by version 1795000000"
    os.makedirs(os.path.join(root, "round-3"))
    assert nothing_new(select_window(root, "round-{SPAN}", 1), model_dir) == ""
    assert nothing_new([], model_dir) == ""  # a flat data root: every run trains


def imgpipe(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_a_run_with_nothing_new_stops_in_seconds_and_pushes_nothing(tmp_path):
    data = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2"], per_class=6, size=8)
    output = str(tmp_path / "out")
    model_dir = fake_served_model(output, 1795000000, [2])
    started = time.monotonic()
    result = imgpipe("run", "--data", data, "--output", output, "--set", "data.span_pattern=round-{SPAN}")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15  # no TFX import (~10 s alone), no run
    assert "Data: " + data + " span 2 (round-2): 18 image files" in result.stdout
    assert "No new data since span 2, served by version 1795000000" in result.stdout
    assert "Running pipeline" not in result.stdout and os.listdir(model_dir) == ["1795000000"]
    assert not os.path.exists(os.path.join(output, "metadata.sqlite"))


def test_an_empty_newest_span_stops_before_the_run_naming_it(tmp_path):
    data = make_span_folders(str(tmp_path / "data"), ["round-1"], per_class=6, size=8)
    os.makedirs(os.path.join(data, "round-2", "red"))
    os.makedirs(os.path.join(data, "round-2", "blue"))
    result = imgpipe("run", "--data", data, "--output", str(tmp_path / "out"),
                     "--set", "data.span_pattern=round-{SPAN}")
    expected = "span 2 (round-2): class(es) with fewer than data.min_images_per_class=5 image files: blue (0), red (0)"
    assert result.returncode == 2 and expected in result.stderr
    window = imgpipe("run", "--data", data, "--output", str(tmp_path / "out"),
                     "--set", "data.span_pattern=round-{SPAN}", "--set", "data.window_spans=2")
    assert window.returncode == 2 and expected in window.stderr  # round-1's images do not hide it
    assert not os.path.exists(tmp_path / "out")


# --------------------------------------------------------------------------- one run per output

HOLD_LOCK = """
import sys, time
from pipeline.local.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_run_on_the_same_output_refuses_at_once_and_a_killed_run_leaves_no_lock(tmp_path):
    data = make_colour_folder(str(tmp_path / "data"), per_class=6, size=8)
    output = str(tmp_path / "out")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, output], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        second = imgpipe("run", "--data", data, "--output", output)
        assert time.monotonic() - started < 15
        assert second.returncode == 1 and "Running pipeline" not in second.stdout
        assert f"another imgpipe run is using {output} (pid {holder.pid}, started " in second.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    from pipeline.local.run_lock import run_lock
    with run_lock(output):  # the kernel released the killed holder's lock
        pass


def test_span_without_a_span_pattern_is_refused_before_anything_runs(tmp_path):
    data = make_colour_folder(str(tmp_path / "data"), per_class=6, size=8)
    result = imgpipe("run", "--data", data, "--output", str(tmp_path / "out"), "--span", "2")
    assert result.returncode == 2 and "--span needs data.span_pattern" in result.stderr
    assert not os.path.exists(tmp_path / "out")
