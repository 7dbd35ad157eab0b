"""`imgpipe`: the command line's front door. Each verb lives with what it drives:

- `run`                                   pipeline/local/cli.py      (the local runner)
- `report`, `runs`                        pipeline/history/cli.py    (past runs, from ML Metadata)
- `compile`, `submit`, `schedule`, `schedules`, `validate-spec`, `run-spec`
                                          pipeline/kubeflow/cli.py   (Kubeflow Pipelines and Vertex AI)
- `predict`, `rollback`, `verify`         pipeline/serving/cli.py    (a serving directory)

Heavy imports (TFX, TensorFlow, Beam: ~10 s) happen only inside the commands
that need them, so `--help` and input errors answer at once.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from pipeline.beam_args import join_beam_args
from pipeline.cli_help import InputError
from pipeline.exit_codes import EXIT_USAGE
from pipeline.history.cli import add_history_commands
from pipeline.kubeflow.cli import add_commands as add_kubeflow_commands
from pipeline.local.cli import add_run_command
from pipeline.serving.cli import add_serving_commands
from schemas.config import ConfigError


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description="Image classification with TFX: ingest, validate, "
        "transform, train a residual CNN, evaluate against the served model, push.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_run_command(commands)
    add_history_commands(commands)
    add_kubeflow_commands(commands)
    add_serving_commands(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
