"""Where a local run keeps everything: one output folder (no heavy imports, so any command can use it)."""
from __future__ import annotations

import dataclasses
import os


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

    def serving_model_dir(self, model_name: str) -> str:
        return os.path.join(self.root, "serving", model_name)
