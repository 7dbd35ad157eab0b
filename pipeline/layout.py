"""Where a local run keeps everything: one output folder (no heavy imports, so any command can use it).

The local runner writes it; `imgpipe runs`, `report`, `predict` and the nothing-new check read it.
"""
from __future__ import annotations

import dataclasses
import os

DEFAULT_OUTPUT = "output"   # `--output` of every command that reads or writes a local run
SERVING_DIR = "serving"     # <output>/serving/<serving.model_name>/<version>/: TF Serving's layout


@dataclasses.dataclass(frozen=True)
class OutputLayout:
    """Everything a local run writes lives under one folder."""
    root: str

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.root, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.root, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.root, SERVING_DIR)

    def serving_model_dir(self, model_name: str) -> str:
        return os.path.join(self.serving_dir, model_name)
