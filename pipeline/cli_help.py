"""What every verb module shares: sub-commands whose help ends with examples, `--config`/`--set`, and the
error for bad input found before anything runs. The examples are parsed by a test, so they stay valid
command lines."""
from __future__ import annotations

import argparse
from typing import Sequence

from pipeline.layout import DEFAULT_OUTPUT

EXAMPLES_HEADING = "examples:"


class InputError(ValueError):
    """Bad input found before the pipeline starts (data folder, paths): exit code 2, one line."""


def add_command(commands, name: str, help: str, examples: Sequence[str], description: str = ""):
    """`commands.add_parser(name)` whose help ends with the example command lines, kept as written."""
    return commands.add_parser(
        name, help=help, description=description or help,
        epilog="\n".join([EXAMPLES_HEADING, *("  " + line for line in examples)]),
        formatter_class=argparse.RawDescriptionHelpFormatter)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="", help="YAML or JSON config file; configs/example.yaml "
                        "lists every key with its default")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set train.epochs=5 (repeatable)")


def add_output_arg(parser: argparse.ArgumentParser, what: str) -> None:
    """`--output`: the local output folder (pipeline/layout.py), one default for every verb."""
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help=f"{what} (default: ./{DEFAULT_OUTPUT})")
