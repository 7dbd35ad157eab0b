"""Beam pipeline args, shared by both runners: the `--beam-arg` flag of `imgpipe run` and `imgpipe compile`,
the dependency flag the workers need, and when the in-memory DirectRunner stops being sensible."""
from __future__ import annotations

import argparse
from typing import List, Sequence

BEAM_ARG = "--beam-arg"

# Any of these tells TFX how Beam workers get the pipeline's code.
DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file",
                    "--worker_harness_container_image", "--sdk_container_image")


def with_setup_file(beam_args: Sequence[str], setup_py: str) -> List[str]:
    """`beam_args` plus `--setup_file=setup_py`, unless the user already named a dependency.

    Without any dependency flag, TFX builds an sdist of the whole tfx package for
    every Beam component of every run (~2.5 s each, 48 MB left in /tmp), and a
    remote runner (Dataflow) needs our package anyway, which setup.py describes.
    """
    if any(arg.split("=")[0].startswith(DEPENDENCY_FLAGS) for arg in beam_args):
        return list(beam_args)
    return list(beam_args) + [f"--setup_file={setup_py}"]


def in_memory_direct_runner(beam_args: Sequence[str]) -> bool:
    """True when these args run Beam's DirectRunner in one process (also Beam's default when they name
    neither a runner nor a running mode)."""
    flags = dict(arg.lstrip("-").split("=", 1) for arg in beam_args if "=" in arg)
    return (flags.get("runner", "DirectRunner") in ("DirectRunner", "direct")
            and flags.get("direct_running_mode", "in_memory") == "in_memory")


def large_data_hint(image_files: int, beam_args: Sequence[str], threshold: int) -> str:
    """One line suggesting the multi-process DirectRunner (or a distributed runner) for a large folder; ''
    below `threshold` (run.large_data_images; 0: never) or when the args already leave the in-memory mode."""
    if not threshold or image_files < threshold or not in_memory_direct_runner(beam_args):
        return ""
    return (f"Hint: {image_files} image files reach run.large_data_images={threshold}: the in-memory "
            "DirectRunner holds them in one process on one core; with many cores try --beam-arg "
            "--direct_running_mode=multi_processing --beam-arg --direct_num_workers=0, past this machine's "
            "memory a distributed runner (docs/scaling.md)")


def join_beam_args(argv: List[str]) -> List[str]:
    """`--beam-arg --runner=X` -> `--beam-arg=--runner=X`: argparse would take `--runner=X` for an option."""
    out: List[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == BEAM_ARG and i + 1 < len(argv):
            out.append(f"{BEAM_ARG}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def add_beam_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(BEAM_ARG, dest="beam_args", action="append", default=[], metavar="ARG",
                        help="extra Beam pipeline arg, appended to run.beam_args (repeatable), "
                        "e.g. --beam-arg --runner=DataflowRunner --beam-arg --project=my-proj")
