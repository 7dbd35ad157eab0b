"""`imgpipe`: the command line.

Heavy imports (TFX, TensorFlow, Beam: ~10 s) happen only inside the commands
that need them, so `--help` and input errors answer at once.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import List, Optional

import schemas
from pipeline.beam_args import large_data_hint
from pipeline.cli_help import add_command
from pipeline.exit_codes import EXIT_FAILED, EXIT_NOT_BLESSED, EXIT_OK, EXIT_USAGE
from pipeline.kubeflow.cli import add_beam_arg, add_commands, join_beam_args
from pipeline.serving.cli import add_serving_commands
from schemas.config import Config, ConfigError, build_config

REPO_SCHEMAS = os.path.dirname(os.path.abspath(schemas.__file__))
DEMO_SCHEMA = os.path.join(REPO_SCHEMAS, "demo", "schema.pbtxt")


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(join_beam_args(sys.argv[1:] if argv is None else list(argv)))
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (ConfigError, InputError) as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def package_version() -> str:
    """The installed package's version (setup.py is the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("imgpipe")
    except PackageNotFoundError:
        return "(not installed: pip install -e .)"


class InputError(ValueError):
    """Bad input found before the pipeline starts (data folder, paths)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description="Image classification with TFX: ingest, validate, "
        "transform, train a residual CNN, evaluate against the served model, push.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = add_command(commands, "run", "run the whole pipeline locally (Beam DirectRunner)", [
        "imgpipe run                                 # the embedded demo data, outputs in ./output",
        "imgpipe run --data ~/photos --output runs/photos --config configs/example.yaml",
        "imgpipe run --data ~/photos --set train.epochs=5 --set model.preset=seed",
        "imgpipe run --data gs://my-bucket/images --beam-arg --direct_num_workers=2"])
    run.add_argument("--data", help="image folder, one sub-folder per class (local path or gs://...); "
                     "default: the embedded demo data")
    run.add_argument("--output", default="output",
                     help="folder for pipeline artifacts, metadata and the serving dir (default: ./output)")
    _add_config_args(run)
    run.add_argument("--verbose", action="store_true", help="show TFX/Beam/TensorFlow progress logs")
    run.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    run.add_argument("--fail-if-not-blessed", action="store_true",
                     help=f"exit with code {EXIT_NOT_BLESSED} when the run finishes but the gate does not bless "
                     "the model (for CI and schedulers)")
    run.add_argument("--span", type=int, default=None, metavar="N",
                     help="with data.span_pattern: train on span N (and the window before it) instead of the "
                     "newest, e.g. for a batch that arrived late; runs even if the served model has seen it")
    add_beam_arg(run)
    run.set_defaults(func=cmd_run)
    _add_history_commands(commands)
    add_commands(commands, _add_config_args)  # compile, submit, schedule (pipeline/kubeflow/cli.py)
    add_serving_commands(commands)  # rollback, predict (pipeline/serving/cli.py)
    _add_spec_commands(commands)
    return parser


def _add_history_commands(commands) -> None:
    """report and runs: what past local runs did (pipeline/history/report/, pipeline/history/runs.py)."""
    report = add_command(commands, "report", "find (or rebuild) the HTML report of a run and print its path", [
        "imgpipe report                              # the newest run in ./output",
        "imgpipe report runs/photos                  # the newest run in that output folder",
        "imgpipe report 2026-11-27T01:02:03.456789 --output runs/photos --rebuild"])
    report.add_argument("target", nargs="?", default="", metavar="RUN|OUTPUT_DIR",
                        help="a run id (see `imgpipe runs`) or an output folder (its newest run); "
                        "default: the newest run in --output")
    report.add_argument("--output", default="output", help="output folder of the runs (default: ./output)")
    report.add_argument("--rebuild", action="store_true", help="write the report again even if it exists")
    _add_config_args(report)
    report.set_defaults(func=cmd_report)
    runs = add_command(commands, "runs", "one line per past run: when, data, images, accuracy, verdict, "
                       "pushed version, duration, report", [
                           "imgpipe runs                                # the runs in ./output",
                           "imgpipe runs --output runs/photos"])
    runs.add_argument("--output", default="output", help="output folder of the runs (default: ./output)")
    _add_config_args(runs)
    runs.set_defaults(func=cmd_runs)


def cmd_report(args) -> int:
    from pipeline.local.layout import OutputLayout
    from pipeline.history.report import report_path, write_run_report
    from pipeline.history.run_record import open_store, read_run_record
    cfg = build_config(args.config, args.overrides)
    is_dir = bool(args.target) and os.path.isdir(args.target)
    layout = OutputLayout(os.path.abspath(args.target if is_dir else args.output))
    run_id = "" if is_dir else args.target
    if not os.path.isfile(layout.metadata_path):
        raise InputError(f"no runs recorded in {layout.root} (no {os.path.basename(layout.metadata_path)}): "
                         "pass the --output folder of `imgpipe run`")
    record = read_run_record(open_store(layout.metadata_path), cfg.run.pipeline_name, run_id)
    if record is None:
        raise InputError(f"no run {run_id!r} of pipeline {cfg.run.pipeline_name!r} in {layout.root}; "
                         "`imgpipe runs --output DIR` lists the runs")
    path = report_path(layout.pipeline_root, record.run_id)
    if args.rebuild or not os.path.isfile(path):
        from pipeline.local.progress import native_stderr_to
        with native_stderr_to(os.devnull):
            path = write_run_report(layout.metadata_path, layout.pipeline_root, cfg.run.pipeline_name,
                                    record.run_id, cfg)
    print(f"Report: {path}")
    return EXIT_OK


def cmd_runs(args) -> int:
    from pipeline.history.runs import run_table
    cfg = build_config(args.config, args.overrides)
    lines = run_table(args.output, cfg.run.pipeline_name)
    print("\n".join(lines) if lines else f"No runs of pipeline '{cfg.run.pipeline_name}' recorded in "
          f"{os.path.abspath(args.output)}")
    return EXIT_OK


def _add_spec_commands(commands) -> None:
    """validate-spec and run-spec: will a compiled Kubeflow spec run? (pipeline/kubeflow/spec_check.py, spec_run.py)"""
    validate = add_command(commands, "validate-spec", "check a compiled KFP/Vertex spec: schema, DAG, "
                           "images, container commands, no resolver nodes", [
                               "imgpipe validate-spec imgpipe.yaml",
                               "imgpipe validate-spec imgpipe.json"])
    validate.add_argument("file", help="compiled .yaml (PipelineSpec) or .json (PipelineJob)")
    validate.set_defaults(func=cmd_validate_spec)
    run = add_command(commands, "run-spec", "run a compiled spec here, each task as a subprocess "
                      "with the executor input a KFP launcher would build", [
                          "# a spec compiled with local paths for the repository and the serving dir:",
                          "imgpipe compile --image imgpipe:dev --pipeline-root /tmp/specrun/root "
                          "--serving-dir /tmp/specrun/serving --source-dir-in-image \"$PWD\" "
                          "--output /tmp/specrun/imgpipe.yaml",
                          "imgpipe run-spec /tmp/specrun/imgpipe.yaml --workdir /tmp/specrun --oss "
                          "--param data_root=/path/to/images",
                          "imgpipe run-spec /tmp/specrun/imgpipe.yaml --workdir /tmp/specrun --oss --only Trainer"])
    run.add_argument("file", help="compiled .yaml (PipelineSpec) or .json (PipelineJob)")
    run.add_argument("--workdir", required=True, help="folder for artifacts, executor inputs/outputs and logs")
    run.add_argument("--oss", action="store_true", help="imitate open-source KFP v2: minio:// URIs mirrored "
                     "under the workdir, untyped upstream artifacts, no driver hook")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="pipeline (runtime) parameter value (repeatable)")
    run.add_argument("--entrypoint", choices=("spec", "ours", "stock"), default="spec",
                     help="container command: as compiled (default), ours (pipeline.kubeflow.entrypoint) "
                     "or stock (TFX's kubeflow_v2_run_executor)")
    run.add_argument("--only", action="append", default=[], metavar="TASK",
                     help="rerun only this task (repeatable), with the upstream outputs of an earlier run")
    run.add_argument("--run-id", default="", help="with --only: the earlier run (default: the last one)")
    run.add_argument("--until", default="", metavar="TASK",
                     help="stop after this task, e.g. --until Transform to try the data half of the pipeline")
    run.set_defaults(func=cmd_run_spec)


def cmd_validate_spec(args) -> int:
    from pipeline.kubeflow.spec_check import SpecError, load_spec, validate_spec
    try:
        problems = validate_spec(load_spec(args.file))
    except SpecError as e:
        raise InputError(str(e)) from None
    for problem in problems:
        print(f"{args.file}: {problem}")
    print(f"{args.file}: {len(problems)} problem(s)" if problems else f"{args.file}: OK")
    return EXIT_FAILED if problems else EXIT_OK


def cmd_run_spec(args) -> int:
    from pipeline.kubeflow.spec_check import SpecError, load_spec
    from pipeline.kubeflow.spec_run import RunOptions, run_spec
    params = dict(p.split("=", 1) for p in args.param if "=" in p)
    if len(params) != len(args.param):
        raise InputError(f"--param takes NAME=VALUE, got: {', '.join(p for p in args.param if '=' not in p)}")
    try:
        result = run_spec(load_spec(args.file), RunOptions(
            workdir=args.workdir, oss=args.oss, params=params, entrypoint=args.entrypoint,
            only=args.only, run_id=args.run_id, until=args.until))
    except SpecError as e:
        raise InputError(str(e)) from None
    failed = result.failed
    total = sum(t.seconds for t in result.tasks)
    skipped = [t.name for t in result.tasks if t.skipped]
    print(f"Failed at task {failed.name}" if failed else
          f"{len(result.tasks) - len(skipped)} task(s) succeeded, {len(skipped)} skipped by their trigger condition, "
          f"in {total:.1f} s" if skipped else f"All {len(result.tasks)} task(s) succeeded in {total:.1f} s")
    return EXIT_FAILED if failed else EXIT_OK


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="", help="YAML or JSON config file; configs/example.yaml "
                        "lists every key with its default")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set train.epochs=5 (repeatable)")


def resolve_inputs(args) -> tuple[Config, str, list]:
    """Config, data root and the span folders to read ([] without data.span_pattern), checked before
    anything heavy is imported or run."""
    cfg = build_config(args.config, args.overrides)
    cfg.run.beam_args = list(cfg.run.beam_args) + list(getattr(args, "beam_args", []))
    if args.data:
        data_root = args.data
    else:
        from pipeline.local.demo_data import ensure_demo_data
        data_root = ensure_demo_data()
        if not cfg.data.schema_path:
            cfg.data.schema_path = DEMO_SCHEMA
    if cfg.data.schema_path and not os.path.isfile(cfg.data.schema_path):
        raise InputError(f"schema file not found: {cfg.data.schema_path} (config key data.schema_path)")
    if getattr(args, "span", None) is not None and not cfg.data.span_pattern:
        raise InputError("--span needs data.span_pattern (the name of the batch folders, e.g. "
                         "--set data.span_pattern=round-{SPAN}); see docs/scheduled-runs.md")
    folders = _check_data_folder(data_root, cfg, getattr(args, "span", None))
    return cfg, data_root, folders


def _check_data_folder(data_root: str, cfg: Config, span: Optional[int] = None) -> list:
    """Folder-level problems only, from a listing (no file is read): ingestion quarantines bad files.

    With data.span_pattern, the window of span folders the run will read (returned); an empty or
    too small newest span stops here, named, even when older spans of the window would fill its classes."""
    from components.image_example_gen import ImageFolderError
    from components.image_example_gen.spans import describe, select_window
    folders = []
    if cfg.data.span_pattern:
        try:
            folders = select_window(data_root, cfg.data.span_pattern, cfg.data.window_spans, span)
        except ImageFolderError as e:
            raise InputError(str(e)) from None
    if len(folders) > 1:
        _checked_scan(data_root, folders[-1:], cfg)
    scan = _checked_scan(data_root, folders, cfg)
    if cfg.data.golden_dir:
        from components.image_example_gen.eval_sets import curated_schema_problem, scan_golden_folder
        try:
            scan_golden_folder(cfg.data.golden_dir, data_root, scan.class_names)
        except ImageFolderError as e:
            raise InputError(str(e)) from None
        problem = curated_schema_problem(cfg.data.schema_path) if cfg.data.schema_path else ""
        if problem:
            raise InputError(problem)
    print(f"Data: {data_root}" + (f" {describe(folders)}" if folders else "")
          + f": {len(scan.files)} image files in {len(scan.class_names)} classes "
          f"({', '.join(scan.class_names)}); {len(scan.skipped)} other entries skipped")
    hint = large_data_hint(len(scan.files), cfg.run.beam_args, cfg.run.large_data_images)
    if hint:
        print(hint)
    return folders


def _checked_scan(data_root: str, folders: list, cfg: Config):
    """The listing of the data root (or of these span folders), every class holding enough image files."""
    from components.image_example_gen import ImageFolderError, IngestionLimitError, IngestLimits, scan_image_folder
    from components.image_example_gen.limits import check_class_minimum
    from components.image_example_gen.spans import describe, scan_span_folders
    limits = IngestLimits.from_data_config(cfg.data)
    skip_empty = limits.min_images_per_class == 0
    try:
        scan = (scan_span_folders(data_root, folders, skip_empty) if folders
                else scan_image_folder(data_root, skip_empty))
        check_class_minimum(scan.class_counts(), limits, "image files")
    except (ImageFolderError, IngestionLimitError) as e:
        raise InputError((f"{describe(folders)}: " if folders else "") + str(e)) from None
    return scan


def cmd_run(args) -> int:
    """One run per output at a time (pipeline/local/run_lock.py); a scheduled run with no new span stops at once."""
    from pipeline.local.layout import OutputLayout
    from components.new_data.check import NOTHING_TO_DO, nothing_new
    from pipeline.local.run_lock import RunLockedError, run_lock
    cfg, data_root, folders = resolve_inputs(args)
    try:
        with run_lock(args.output):
            serving_dir = OutputLayout(os.path.abspath(args.output)).serving_model_dir(cfg.serving.model_name)
            stop = "" if args.span is not None else nothing_new(folders, serving_dir)
            if stop:
                print(f"{stop}: {NOTHING_TO_DO}.")
                return EXIT_OK
            return _run_pipeline(args, cfg, data_root)
    except RunLockedError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_FAILED


def _run_pipeline(args, cfg: Config, data_root: str) -> int:
    log_path = _route_logs(args.output, args.verbose)
    from pipeline.local.runner import run_local
    from pipeline.local.progress import native_stderr_to
    from pipeline.history.summary import format_summary

    print(f"Running pipeline '{cfg.run.pipeline_name}' -> {os.path.abspath(args.output)}", flush=True)
    with contextlib.nullcontext() if args.verbose else native_stderr_to(log_path):
        summary = run_local(cfg, data_root, args.output, progress=None if args.quiet else sys.stdout,
                            span=args.span)
    print(f"Full logs: {log_path}")
    print(format_summary(summary))
    return run_exit_code(summary, args.fail_if_not_blessed)


def run_exit_code(summary, fail_if_not_blessed: bool) -> int:
    """1 when a step failed; 3 when asked to and the model was not blessed (a forced push is blessed); else 0."""
    if summary.error:
        return EXIT_FAILED
    if fail_if_not_blessed and summary.blessed is not True:
        return EXIT_NOT_BLESSED
    return EXIT_OK


def _route_logs(output_dir: str, verbose: bool) -> str:
    """Send TFX/Beam/TensorFlow logs to a file (or, with --verbose, to the console too).

    The console keeps what a person reads: data, progress, the run summary.
    Component failures are summarised there; their full tracebacks are in the file.
    """
    import logging as py_logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if verbose else "3")
    log_dir = os.path.join(os.path.abspath(output_dir), "logs")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, time.strftime("run-%Y%m%d-%H%M%S.log"))
    handler = py_logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(py_logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = py_logging.getLogger()
    if not verbose:
        for old in list(root.handlers):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(py_logging.INFO)
    py_logging.captureWarnings(True)
    from absl import logging
    logging.set_verbosity(logging.INFO)
    logging.use_python_logging(quiet=True)
    if not verbose:
        logging.get_absl_handler().setLevel(py_logging.CRITICAL)
    return log_path


if __name__ == "__main__":
    sys.exit(main())
