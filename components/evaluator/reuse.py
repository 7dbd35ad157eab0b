"""The Evaluator's one allowed skip: a candidate already judged, byte for byte, on the same images and settings.

When the candidate's files equal the served model's (or nothing is served), comparing the two is a tie
by construction (no image differs, every class recall equal), so the verdict is the floors' on the
candidate alone; those depend only on the candidate's bytes, the judged examples and the eval settings.
If an earlier Evaluator execution saw the same three (with no served model or one identical to its
candidate), its TFMA outputs are copied into this execution's evaluation and blessing instead of
running TFMA again: the Pusher, the report and the model card read the same artifacts as ever.

The earlier executions are found beside this one's output (`<pipeline root>/Evaluator/evaluation/<id>/`,
the local runner's layout), by the `reuse.json` each eligible execution writes there after TFMA has run.
Where outputs of earlier runs are not siblings (a Kubeflow run has its own root), nothing is found and
TFMA runs: the skip is an optimisation, never a requirement.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Dict, List, Optional

from components.fs import copy_tree, fs_for, sibling_documents, write_json
from components.pusher.already_served import model_digests
from components.pusher.integrity import file_digests, manifest_text

KEY_FILE = "reuse.json"
# The gate's own code: a change to its rules must judge again, even under the same settings.
_GATE_SOURCES = ("paired.py", "gate_metric.py")
_SETTINGS = ("eval_config", "example_splits", "fairness_indicator_thresholds", "module_file", "module_path")
# What the blessing records about the verdict (TFX's `blessed`, and ours: spec.py)
VERDICT_PROPERTIES = ("blessed", "gate_blessed", "forced_bless", "force_reason")


def _sha(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def tree_digest(digests: Dict[str, str]) -> str:
    return _sha(manifest_text(digests))


def examples_digest(examples_uri: str, splits: List[str]) -> str:
    """sha256 over the files of the judged splits (name and content), in split order."""
    parts = [f"{split}\n".encode() + manifest_text(file_digests(f"{examples_uri.rstrip('/')}/Split-{split}"))
             for split in splits]
    return _sha(b"".join(parts))


def settings_digest(exec_properties: dict) -> str:
    """sha256 of the Evaluator's settings (eval config with the gate's rules, splits), TFMA's version and
    the gate's source code."""
    from importlib import metadata
    here = os.path.dirname(os.path.abspath(__file__))
    sources = b"".join(open(os.path.join(here, name), "rb").read() for name in _GATE_SOURCES)
    settings = {k: exec_properties.get(k) for k in _SETTINGS}
    return _sha(json.dumps(settings, sort_keys=True, default=str).encode() + sources
                + metadata.version("tensorflow-model-analysis").encode())


def judged_splits(examples, exec_properties: dict) -> List[str]:
    """The splits TFMA reads: example_splits when set, else all of the artifact's splits (TFX's default)."""
    from tfx.types import artifact_utils
    chosen = json.loads(exec_properties.get("example_splits") or "null")
    return list(chosen) if chosen else artifact_utils.decode_split_names(examples.split_names)


def reuse_key(candidate_dir: str, baseline_dir: Optional[str], examples, exec_properties: dict) -> Optional[dict]:
    """What an execution must share with an earlier one to take its verdict; None when the candidate
    differs from the served model (then the comparison decides and TFMA must run)."""
    candidate = model_digests(candidate_dir)
    if not candidate or (baseline_dir and model_digests(baseline_dir) != candidate):
        return None
    return {"candidate": tree_digest(candidate),
            "examples": examples_digest(examples.uri, judged_splits(examples, exec_properties)),
            "settings": settings_digest(exec_properties)}


def find_earlier(evaluation_uri: str, key: dict) -> Optional[dict]:
    """The newest earlier execution's record with the same key (its `uri` added), else None."""
    found = [{**record, "uri": uri} for uri, record in sibling_documents(evaluation_uri, KEY_FILE)
             if record.get("key") == key and _has_verdict_file(record.get("blessing_uri", ""))]
    return max(found, key=lambda r: r.get("written", 0.0), default=None)


def _has_verdict_file(blessing_uri: str) -> bool:
    """The earlier blessing is still there (a cleaned-up output is not reused)."""
    return bool(blessing_uri) and any(fs_for(blessing_uri).exists(f"{blessing_uri}/{name}")
                                      for name in ("BLESSED", "NOT_BLESSED"))


def record(evaluation_uri: str, key: dict, run_id: str, blessing, reused_from: Optional[dict] = None) -> None:
    """Write this execution's key, its run and verdict beside TFMA's files, for a later execution to find."""
    import time
    verdict = {k: blessing.get_custom_property(k) for k in VERDICT_PROPERTIES if blessing.has_custom_property(k)}
    origin = reused_from or {}
    write_json(f"{evaluation_uri}/{KEY_FILE}", {
        "key": key, "verdict": verdict, "written": time.time(),
        "blessing_uri": blessing.uri, "judged_in_run": origin.get("judged_in_run") or run_id or "(not recorded)",
        "judged_in": origin.get("judged_in") or evaluation_uri})


def copy_earlier(earlier: dict, evaluation_uri: str, blessing) -> None:
    """TFMA's files and the blessing file of `earlier` into this execution's outputs, with its verdict."""
    copy_tree(earlier["uri"], evaluation_uri)
    copy_tree(earlier["blessing_uri"], blessing.uri)
    for name, value in earlier["verdict"].items():
        if isinstance(value, int):
            blessing.set_int_custom_property(name, value)
        else:
            blessing.set_string_custom_property(name, str(value))
