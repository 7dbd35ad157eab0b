"""`imgpipe` as a user meets it: help, and clear errors (no traceback) for bad input."""
import json
import os
import re
import subprocess
import sys

from tests.fixtures import make_colour_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imgpipe(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def assert_clean_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_help_lists_the_run_command_without_loading_tensorflow():
    result = imgpipe("run", "--help", timeout=30)
    assert result.returncode == 0
    assert "--data" in result.stdout and "--set KEY=VALUE" in result.stdout


def test_missing_data_folder(tmp_path):
    assert_clean_error(imgpipe("run", "--data", str(tmp_path / "nope"), "--output", str(tmp_path / "o")),
                       "data folder not found", "nope")


def test_folder_without_class_folders(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.png").write_bytes(b"x")
    assert_clean_error(imgpipe("run", "--data", str(tmp_path / "data")), "no class", str(tmp_path / "data"))


def test_one_class_only(tmp_path):
    root = make_colour_folder(str(tmp_path / "data"), per_class=2)
    for name in ("green", "blue"):
        for f in os.listdir(os.path.join(root, name)):
            os.remove(os.path.join(root, name, f))
        os.rmdir(os.path.join(root, name))
    assert_clean_error(imgpipe("run", "--data", root), "red", "at least 2 classes")


def test_a_class_with_no_images(tmp_path):
    root = make_colour_folder(str(tmp_path / "data"), per_class=2)
    os.makedirs(os.path.join(root, "purple"))
    (tmp_path / "data" / "purple" / "notes.txt").write_text("not an image")
    assert_clean_error(imgpipe("run", "--data", root), "purple")


def test_an_unreadable_image_is_quarantined_and_over_the_limit_stops_the_run_naming_it(tmp_path):
    """Found by ingestion inside the pipeline (the CLI does not read every file up front): the text file
    is quarantined, not fatal; with data.max_bad_fraction below its share (1 of 19) the run stops."""
    root = make_colour_folder(str(tmp_path / "data"), per_class=6)
    (tmp_path / "data" / "red" / "notes.jpg").write_text("this is text, not a JPEG")
    result = imgpipe("run", "--data", root, "--output", str(tmp_path / "out"),
                     "--set", "data.max_bad_fraction=0.01", timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "1 of 19 image files (5.3%) were quarantined, above data.max_bad_fraction=0.01" in result.stdout
    assert "red/notes.jpg (content is not JPEG, PNG, GIF or BMP" in result.stdout
    report = result.stdout.split("Full list: ", 1)[1].split()[0].rstrip(".")
    with open(report) as f:
        assert [q["path"] for q in json.load(f)] == [os.path.join(root, "red", "notes.jpg")]
    lines = result.stdout.strip().splitlines()
    assert lines[-3].startswith("Blessed: no") and lines[-1] == "Pushed model: none"
    # progress: the first component starts and fails; the report of the stopped run is written
    assert "[1/12] ImageExampleGen started" in lines
    assert any(re.fullmatch(r"\[1/12\] ImageExampleGen \.\.\. \d+\.\d s failed", line) for line in lines)
    report = next(line for line in lines if line.startswith("Report: "))[len("Report: "):]
    with open(report, encoding="utf-8") as f:
        assert "Stopped before a model was judged" in f.read()


def test_bad_config_key_and_value_are_named(tmp_path):
    root = make_colour_folder(str(tmp_path / "data"), per_class=2)
    assert_clean_error(imgpipe("run", "--data", root, "--set", "train.epoch=3"), "train.epoch")
    assert_clean_error(imgpipe("run", "--data", root, "--set", "model.padding=full"), "model.padding")
    assert_clean_error(imgpipe("run", "--data", root, "--config", str(tmp_path / "none.yaml")),
                       "none.yaml")


def test_missing_schema_file_is_named(tmp_path):
    root = make_colour_folder(str(tmp_path / "data"), per_class=2)
    assert_clean_error(imgpipe("run", "--data", root, "--set", f"data.schema_path={tmp_path}/s.pbtxt"),
                       "s.pbtxt")
