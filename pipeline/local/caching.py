"""What a cached local run needs from its runner: a token unique to the run, and the data's fingerprint.

With caching on, TFX reuses a component's earlier outputs when its input artifacts and its settings
(exec properties) match an earlier execution. Two things escape that key, and each gets a value here
that create_pipeline() puts into the settings of the nodes concerned:

- state outside the pipeline: the served model (ServedModelBaseline) and the previous validated run
  (ImageDataValidator's reference) can change between runs with nothing in the pipeline changing.
  `run_token` is new on every run, so those nodes always execute;
- the image files: TFX's ExampleGen driver fingerprints the class folders only (a folder's mtime
  changes when a file is added, removed or renamed, not when one is rewritten in place).
  `data_fingerprint` covers every file's path, size and mtime, so any change re-ingests.

The Kubeflow compile gets no RunCache: a compiled spec is the same for every run, so it cannot carry
a per-run token, and it stays uncached (docs/performance.md#caching).
"""
from __future__ import annotations

import dataclasses
import uuid

from components.fs import folder_fingerprint


@dataclasses.dataclass(frozen=True)
class RunCache:
    run_token: str
    data_fingerprint: str
    served_model: str = ""  # the served version's path when the run started ("" when none)

    @property
    def new_data_token(self) -> str:
        """NewDataCheck's token: its answer depends on the data and the served model only, so it is reused
        (and with it every later component, which all take its output as the Cond's input) exactly when
        neither changed; a fresh token per run would make every span pipeline re-run everything."""
        return f"{self.data_fingerprint}|{self.served_model}"


def local_run_cache(data_root: str, golden_dir: str = "", serving_model_dir: str = "") -> RunCache:
    """A new run token; the fingerprint of the data root, and of the golden folder (data.golden_dir) if any;
    the version served from `serving_model_dir` now."""
    from components.pusher.publish import latest_served_version
    fingerprint = folder_fingerprint(data_root) + (f"+{folder_fingerprint(golden_dir)}" if golden_dir else "")
    served = (latest_served_version(serving_model_dir) or "") if serving_model_dir else ""
    return RunCache(run_token=uuid.uuid4().hex, data_fingerprint=fingerprint, served_model=served)
