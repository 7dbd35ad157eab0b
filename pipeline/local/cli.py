"""`imgpipe run`: check the inputs before anything heavy loads, take the output folder's lock, stop at once
when no batch is new, else run the pipeline locally and print its summary."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Optional

from pipeline.beam_args import add_beam_arg, add_beam_runner_args, endpoint_problem, large_data_hint, runner_beam_args
from pipeline.cli_help import InputError, add_command, add_config_args, add_output_arg
from pipeline.exit_codes import EXIT_FAILED, EXIT_NOT_BLESSED, EXIT_OK
from pipeline.layout import OutputLayout
from schemas.config import Config, build_config
from schemas.runtime import lift_onednn_cap


def add_run_command(commands) -> None:
    run = add_command(commands, "run", "run the whole pipeline locally (Beam DirectRunner)", [
        "imgpipe run                                 # the embedded demo data, outputs in ./output",
        "imgpipe run --data ~/photos --output runs/photos --config configs/example.yaml",
        "imgpipe run --data ~/photos --set train.epochs=5 --set model.preset=seed",
        "imgpipe run --data gs://my-bucket/images --beam-arg --direct_num_workers=2",
        "imgpipe run --beam-runner portable --job-endpoint localhost:8099 --worker-pool localhost:50000"])
    run.add_argument("--data", help="image folder, one sub-folder per class (local path or gs://...); "
                     "default: the embedded demo data")
    add_output_arg(run, "folder for pipeline artifacts, metadata and the serving dir")
    add_config_args(run)
    run.add_argument("--verbose", action="store_true", help="show TFX/Beam/TensorFlow progress logs")
    run.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    run.add_argument("--fail-if-not-blessed", action="store_true",
                     help=f"exit with code {EXIT_NOT_BLESSED} when the run finishes but the gate does not bless "
                     "the model (for CI and schedulers)")
    run.add_argument("--span", type=int, default=None, metavar="N",
                     help="with data.span_pattern: train on span N (and the window before it) instead of the "
                     "newest, e.g. for a batch that arrived late; runs even if the served model has seen it")
    add_beam_arg(run)
    add_beam_runner_args(run)
    run.set_defaults(func=cmd_run)


def resolve_inputs(args) -> tuple[Config, str, list]:
    """Config, data root and the span folders to read ([] without data.span_pattern), checked before
    anything heavy is imported or run."""
    cfg = build_config(args.config, args.overrides)
    try:
        runner_args = runner_beam_args(getattr(args, "beam_runner", None), getattr(args, "job_endpoint", ""),
                                       getattr(args, "worker_pool", ""))
    except ValueError as e:
        raise InputError(str(e)) from None
    cfg.run.beam_args = list(cfg.run.beam_args) + list(getattr(args, "beam_args", [])) + runner_args
    if args.data:
        data_root = args.data
    else:
        from pipeline.local.demo_data import DEMO_SCHEMA, ensure_demo_data
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
    from components.new_data.check import NOTHING_TO_DO, nothing_new
    from components.new_data.judged import settings_token
    from pipeline.local.run_lock import RunLockedError, run_lock
    cfg, data_root, folders = resolve_inputs(args)
    problem = endpoint_problem(cfg.run.beam_args)  # a server down: exit 1 before anything is recorded
    if problem:
        print(f"imgpipe: error: {problem}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with run_lock(args.output):
            serving_dir = OutputLayout(os.path.abspath(args.output)).serving_model_dir(cfg.serving.model_name)
            stop = "" if args.span is not None else nothing_new(folders, serving_dir, data_root, settings_token(cfg))
            if stop:
                print(f"{stop}: {NOTHING_TO_DO}.")
                return EXIT_OK
            return _run_pipeline(args, cfg, data_root)
    except RunLockedError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_FAILED


def _run_pipeline(args, cfg: Config, data_root: str) -> int:
    # before TensorFlow loads: oneDNN reads its instruction-set cap once (schemas/runtime.py, lift_onednn_cap)
    onednn = lift_onednn_cap(cfg.model)
    log_path = _route_logs(args.output, args.verbose)
    from absl import logging
    from pipeline.local.runner import run_local
    from pipeline.local.progress import native_stderr_to
    from pipeline.history.summary import format_summary

    print(f"Running pipeline '{cfg.run.pipeline_name}' -> {os.path.abspath(args.output)}", flush=True)
    if onednn:
        logging.info(onednn)
    with contextlib.nullcontext() if args.verbose else native_stderr_to(log_path):
        _check_backbone_weights(cfg)
        summary = run_local(cfg, data_root, args.output, progress=None if args.quiet else sys.stdout,
                            span=args.span)
    print(f"Full logs: {log_path}")
    print(format_summary(summary))
    return run_exit_code(summary, args.fail_if_not_blessed)


def _check_backbone_weights(cfg: Config) -> None:
    """model.backbone_weights found (or fetched by Keras) and fitting the backbone before TFX starts,
    in the Trainer's own words (components/trainer/backbones.py); nothing to do without pretrained weights."""
    from schemas.backbones import WEIGHTS_NONE, weights_source
    if weights_source(cfg.model) == WEIGHTS_NONE:
        return
    from components.trainer.backbones import BackboneWeightsError, preflight_weights
    try:
        print(preflight_weights(cfg), flush=True)
    except BackboneWeightsError as e:
        raise InputError(str(e)) from None


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
