"""`imgpipe` as a user meets it: help, and clear errors (no traceback) for bad input."""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.fixtures import make_colour_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ("run", "report", "runs", "compile", "submit", "schedule", "schedules", "validate-spec", "run-spec", "rollback",
            "predict", "verify")


def imgpipe(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def assert_clean_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


HEAVY = ("tensorflow", "tfx", "apache_beam", "kfp", "tensorflow_data_validation")
CLI_AND_MODULES = """
import json, sys
from pipeline.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def imgpipe_and_heavy_modules(*args):
    """Run the CLI in a fresh process; its output, exit code and which heavy packages it imported."""
    result = subprocess.run([sys.executable, "-c", CLI_AND_MODULES, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    *output, last = result.stdout.rstrip("\n").split("\n")
    loaded = json.loads(last)
    return "\n".join(output), result.stderr, loaded["code"], loaded["heavy"]


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], *([command, "--help"] for command in COMMANDS)])
def test_help_and_version_answer_without_loading_tensorflow(args):
    out, _, code, heavy = imgpipe_and_heavy_modules(*args)
    assert code == 0 and heavy == []
    assert out.startswith("imgpipe ") if args == ["--version"] else "usage: imgpipe" in out


def test_input_errors_answer_without_loading_tensorflow(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("train:\n  epochs: [3\n")
    for args, message in (
            (["run", "--set", "train.epoch=3"], "unknown config key(s): train.epoch"),
            (["run", "--config", str(broken)], f"{broken}:3:1: expected ',' or ']'"),
            (["compile", "--image", "img:1", "--pipeline-root", "minio://mlpipeline/imgpipe",
              "--output", str(tmp_path / "never.yaml")], "pass --serving-dir gs://bucket/serving or a path")):
        _, err, code, heavy = imgpipe_and_heavy_modules(*args)
        assert (code, heavy) == (2, []), args
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "never.yaml").exists()


def test_version_is_the_one_in_setup_py():
    with open(os.path.join(REPO, "setup.py")) as f:
        version = re.search(r'version="([^"]+)"', f.read()).group(1)
    assert imgpipe("--version", timeout=30).stdout == f"imgpipe {version}\n"


def command_parsers():
    from pipeline.cli import _parser
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices


def test_every_command_has_examples_that_parse():
    from pipeline.cli import _parser
    from pipeline.beam_args import join_beam_args
    parsers = command_parsers()
    assert sorted(parsers) == sorted(COMMANDS)
    for name, parser in parsers.items():
        examples = parser.epilog.split("examples:\n", 1)[1].splitlines()
        commands = [shlex.split(line, comments=True) for line in examples if line.strip().startswith("imgpipe")]
        assert any(argv[1] == name for argv in commands), name
        for argv in commands:
            args = _parser().parse_args(join_beam_args(argv[1:]))  # exits (fails the test) if it does not parse
            assert args.command == argv[1]


def test_the_compile_examples_pass_the_checks_made_before_compiling():
    """Each compile example (the minio:// one included) gets past every refusal; only TFX's compile follows."""
    from pipeline.cli import _parser
    from pipeline.kubeflow.compiler import check_compile_options
    from pipeline.kubeflow.spec import default_package_name
    examples = command_parsers()["compile"].epilog.split("examples:\n", 1)[1].splitlines()
    compiles = [shlex.split(line, comments=True)[1:] for line in examples if line.strip().startswith("imgpipe")]
    assert any("minio://" in " ".join(argv) for argv in compiles)
    for argv in compiles:
        a = _parser().parse_args(argv)
        serving_dir = check_compile_options(a.target, a.image, a.pipeline_root,
                                            a.output or default_package_name(a.target), a.data, a.serving_dir)
        assert serving_dir == a.serving_dir or serving_dir == a.pipeline_root + "/serving"


def test_run_help_names_data_set_and_the_not_blessed_exit_code():
    result = imgpipe("run", "--help", timeout=30)
    assert result.returncode == 0
    assert "--data" in result.stdout and "--set KEY=VALUE" in result.stdout
    assert "--fail-if-not-blessed" in result.stdout and "exit with code 3" in result.stdout


def test_exit_codes_for_ci_failed_not_blessed_forced_and_blessed():
    from pipeline.local.cli import run_exit_code
    from pipeline.history.summary import RunSummary
    assert run_exit_code(RunSummary(blessed=False), fail_if_not_blessed=True) == 3
    assert run_exit_code(RunSummary(blessed=False), fail_if_not_blessed=False) == 0
    assert run_exit_code(RunSummary(blessed=None), fail_if_not_blessed=True) == 3  # no verdict is no blessing
    assert run_exit_code(RunSummary(blessed=True, forced=True), fail_if_not_blessed=True) == 0
    assert run_exit_code(RunSummary(blessed=None, error="Trainer: boom"), fail_if_not_blessed=True) == 1


def test_a_forced_push_without_a_reason_is_refused_before_anything_runs(tmp_path):
    assert_clean_error(imgpipe("run", "--output", str(tmp_path / "o"), "--set", "eval.force_bless=true"),
                       "eval.force_reason", "stored with the run")


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
    assert "[1/15] ImageExampleGen started" in lines
    assert any(re.fullmatch(r"\[1/15\] ImageExampleGen \.\.\. \d+\.\d s failed", line) for line in lines)
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


def test_beam_args_pass_through_the_command_line():
    from pipeline.cli import _parser
    from pipeline.beam_args import join_beam_args

    argv = ["run", "--beam-arg", "--runner=FlinkRunner", "--beam-arg", "--flink_master=host:8081"]
    args = _parser().parse_args(join_beam_args(argv))
    assert args.beam_args == ["--runner=FlinkRunner", "--flink_master=host:8081"]


def test_beam_components_pickle_with_cloudpickle_unless_the_user_names_a_pickle_library():
    from pipeline.beam_args import with_pickle_library
    from pipeline.local.runner import with_local_dependency_flag

    local = with_local_dependency_flag(["--direct_num_workers=1"])
    assert local[0] == "--direct_num_workers=1" and local[-1] == "--pickle_library=cloudpickle"
    assert with_pickle_library(["--pickle_library=dill"]) == ["--pickle_library=dill"]
    assert with_pickle_library(["--pickle_library_x=1"])[-1] == "--pickle_library=cloudpickle"


def test_a_class_folder_with_a_newline_is_refused_before_the_run_naming_it(tmp_path):
    """The issue's case: folders 'cir\\ncle', 'square', 'triangle' would shift every served class name."""
    root = make_colour_folder(str(tmp_path / "data"), per_class=5)
    os.rename(os.path.join(root, "red"), os.path.join(root, "cir\ncle"))
    assert_clean_error(imgpipe("run", "--data", root, "--output", str(tmp_path / "o")),
                       "class folder name holds a line break", repr(os.path.join(root, "cir\ncle")))
    assert not os.path.exists(tmp_path / "o" / "serving")


def test_rollback_refuses_an_empty_serving_folder_in_one_line(tmp_path):
    result = imgpipe("rollback", "--serving-dir", str(tmp_path), timeout=30)
    assert_clean_error(result, f"no pushed versions in {tmp_path}/image_classifier")


@pytest.mark.parametrize("extra, hinted", [
    ([], True),                                                            # 15 files reach the threshold of 15
    (["--set", "run.large_data_images=16"], False),                        # below it
    (["--set", "run.large_data_images=0"], False),                         # 0: never
    (["--beam-arg", "--direct_running_mode=multi_processing"], False),     # already left the in-memory mode
    (["--beam-arg", "--runner=DataflowRunner"], False),
])
def test_a_large_folder_gets_a_one_line_runner_hint_after_the_data_line(tmp_path, capsys, extra, hinted):
    """Counted from the listing the run makes anyway (no file is read); the pipeline is not started here."""
    from pipeline.cli import _parser
    from pipeline.local.cli import resolve_inputs
    from pipeline.beam_args import join_beam_args
    root = make_colour_folder(str(tmp_path / "data"), per_class=5)
    argv = ["run", "--data", root, "--set", "run.large_data_images=15", *extra]
    resolve_inputs(_parser().parse_args(join_beam_args(argv)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Data: {root}: 15 image files in 3 classes")
    if hinted:
        assert lines[1:] == [
            "Hint: 15 image files reach run.large_data_images=15: the in-memory DirectRunner holds them in one "
            "process on one core; with many cores try --beam-arg --direct_running_mode=multi_processing "
            "--beam-arg --direct_num_workers=0, past this machine's memory a distributed runner (docs/scaling.md)"]
    else:
        assert lines[1:] == []

