"""Sub-commands with an "examples:" section under their help, shared by pipeline/cli.py and
pipeline/kubeflow/cli.py. The examples are parsed by a test, so they stay valid command lines."""
from __future__ import annotations

import argparse
from typing import Sequence

EXAMPLES_HEADING = "examples:"


def add_command(commands, name: str, help: str, examples: Sequence[str], description: str = ""):
    """`commands.add_parser(name)` whose help ends with the example command lines, kept as written."""
    return commands.add_parser(
        name, help=help, description=description or help,
        epilog="\n".join([EXAMPLES_HEADING, *("  " + line for line in examples)]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
