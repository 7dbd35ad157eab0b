"""Beam pipeline args shared by the runners."""
from __future__ import annotations

from typing import List, Sequence

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
