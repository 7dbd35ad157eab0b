"""`imgpipe`: the command line.

Heavy imports (TFX, TensorFlow, Beam: ~10 s) happen only inside the commands
that need them, so `--help` and input errors answer at once.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

import schemas
from pipeline.config import Config, ConfigError, build_config

REPO_SCHEMAS = os.path.dirname(os.path.abspath(schemas.__file__))
DEMO_SCHEMA = os.path.join(REPO_SCHEMAS, "demo", "schema.pbtxt")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (ConfigError, InputError) as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_USAGE


class InputError(ValueError):
    """Bad input found before the pipeline starts (data folder, paths)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description="Image classification with TFX: ingest, validate, "
        "transform, train a residual CNN, evaluate against the served model, push.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the whole pipeline locally (Beam DirectRunner)")
    run.add_argument("--data", help="image folder, one sub-folder per class (local path or gs://...); "
                     "default: the embedded demo data")
    run.add_argument("--output", default="output",
                     help="folder for pipeline artifacts, metadata and the serving dir (default: ./output)")
    _add_config_args(run)
    run.add_argument("--verbose", action="store_true", help="show TFX/Beam/TensorFlow progress logs")
    run.set_defaults(func=cmd_run)
    return parser


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="", help="YAML or JSON config file (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set train.epochs=5 (repeatable)")


def resolve_inputs(args) -> tuple[Config, str]:
    """Config and data root, checked before anything heavy is imported or run."""
    cfg = build_config(args.config, args.overrides)
    if args.data:
        data_root = args.data
    else:
        from pipeline.demo_data import ensure_demo_data
        data_root = ensure_demo_data()
        if not cfg.data.schema_path:
            cfg.data.schema_path = DEMO_SCHEMA
    if cfg.data.schema_path and not os.path.isfile(cfg.data.schema_path):
        raise InputError(f"schema file not found: {cfg.data.schema_path} (config key data.schema_path)")
    _check_data_folder(data_root)
    return cfg, data_root


def _check_data_folder(data_root: str) -> None:
    from components.image_example_gen.folder import ImageFolderError, scan_image_folder
    try:
        scan = scan_image_folder(data_root)
    except ImageFolderError as e:
        raise InputError(str(e)) from None
    print(f"Data: {data_root}: {len(scan.files)} images in {len(scan.class_names)} classes "
          f"({', '.join(scan.class_names)})")


def cmd_run(args) -> int:
    cfg, data_root = resolve_inputs(args)
    _quiet_logs(args.verbose)
    from pipeline.local_runner import run_local
    from pipeline.summary import format_summary

    print(f"Running pipeline '{cfg.run.pipeline_name}' -> {os.path.abspath(args.output)}", flush=True)
    summary = run_local(cfg, data_root, args.output)
    print(format_summary(summary, cfg.eval.min_accuracy, cfg.eval.max_accuracy_drop))
    return EXIT_FAILED if summary.error else EXIT_OK


def _quiet_logs(verbose: bool) -> None:
    """Keep the console readable: component logs only with --verbose."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging as py_logging
    from absl import logging
    logging.set_verbosity(logging.WARNING)
    py_logging.getLogger().setLevel(py_logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
