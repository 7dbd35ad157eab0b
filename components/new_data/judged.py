"""A batch already judged and rejected is not trained on again for nothing (data.span_pattern runs only).

When the newest batch's model was not blessed, the next scheduled run with nothing new would train on
the same images with the same settings, against the same served model, and be rejected again. So the
verdict is kept beside the served versions, where both runners' checks can read it without ML Metadata
(a Kubeflow run has none it can query):

- NewDataCheck, when it lets a run go on, writes `.judging.json` in the serving model dir: the span, the
  batch key (the span folder's listing: every path, size and mtime; and the settings that shape the
  verdict) and the served version;
- the Pusher, when the gate (or InfraCheck) did not bless the candidate, turns it into `.judged.json` with
  the verdict and when; a push (or a candidate already served) clears both.

The next run stops when the newest span, its batch key and the served version all match the judged
record: new or changed files in the batch, a changed config, `--span N` or a new served model (a push or
a rollback) train again. Names starting with "." are not versions: TF Serving ignores them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Optional

from components.fs import fs_for, local_path, read_json, write_json
from schemas.config import Config

PENDING_FILE = ".judging.json"
JUDGED_FILE = ".judged.json"
UNJUDGED_SECTIONS = ("run", "kubeflow")  # how and where a run goes, not what it trains or how it is judged


@dataclasses.dataclass(frozen=True)
class Judgement:
    span: int
    batch: str                     # batch_key(): the span folder's listing and the settings
    served_version: Optional[int]  # the model it was judged against; None: nothing was served
    judged_at: str = ""            # UTC, when the verdict was recorded
    verdict: str = ""              # "not blessed" | "infra check failed"; "" while the run goes on


def settings_token(cfg: Config) -> str:
    """A digest of every config section that shapes the model or its verdict."""
    judged = {k: v for k, v in cfg.to_dict().items() if k not in UNJUDGED_SECTIONS}
    return hashlib.sha256(json.dumps(judged, sort_keys=True).encode()).hexdigest()[:16]


def batch_key(folder_fingerprint: str, settings: str) -> str:
    return f"{folder_fingerprint[:16]}|{settings}"


def record_pending(serving_model_dir: str, judgement: Judgement) -> None:
    write_json(f"{serving_model_dir.rstrip('/')}/{PENDING_FILE}", dataclasses.asdict(judgement))


def confirm_pending(serving_model_dir: str, verdict: str) -> Optional[Judgement]:
    """The pending judgement with its verdict, kept as the judged record; None when nothing was pending."""
    pending = read_json(f"{serving_model_dir.rstrip('/')}/{PENDING_FILE}")
    if not pending:
        return None
    judged = dataclasses.replace(Judgement(**pending), verdict=verdict,
                                 judged_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    write_json(f"{serving_model_dir.rstrip('/')}/{JUDGED_FILE}", dataclasses.asdict(judged))
    clear(serving_model_dir, PENDING_FILE)
    return judged


def clear(serving_model_dir: str, *names: str) -> None:
    """Forget a pending or judged record (a push changed what is served)."""
    for name in names or (PENDING_FILE, JUDGED_FILE):
        path = local_path(f"{serving_model_dir.rstrip('/')}/{name}")
        fs = fs_for(path)
        if fs.exists(path):
            fs.remove(path)


def judged(serving_model_dir: str, span: int, batch: str, served_version: Optional[int]) -> Optional[Judgement]:
    """The judged record when it is about exactly this span, batch and served model; else None."""
    found = read_json(f"{serving_model_dir.rstrip('/')}/{JUDGED_FILE}")
    if not found:
        return None
    record = Judgement(**found)
    same = (record.span, record.batch, record.served_version) == (span, batch, served_version)
    return record if same and record.verdict else None
