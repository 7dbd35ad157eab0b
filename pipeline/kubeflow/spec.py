"""What a compiled spec is, in the facts that compile, submit, schedule and run-spec all share:
the targets and their file formats, the container command, the runtime parameters, and how
to read a compiled file back. Plain Python: no TFX or kfp import.
"""
from __future__ import annotations

import json
from typing import Dict, Optional, Tuple

from schemas.features import TRAIN_SPLIT

# Target -> the file suffixes its package takes: KFP uploads a PipelineSpec as YAML;
# Vertex AI reads a PipelineJob as JSON (a .json given to KFP would be read as a PipelineJob).
PACKAGE_SUFFIXES: Dict[str, Tuple[str, ...]] = {"kfp": (".yaml", ".yml"), "vertex": (".json",)}
TARGETS = tuple(PACKAGE_SUFFIXES)
ENTRYPOINT_MODULE = "pipeline.kubeflow.entrypoint"
ENTRYPOINT_COMMAND = ("python", "-m", ENTRYPOINT_MODULE)

DATA_ROOT_PARAM = "data_root"
TRAIN_ARGS_PARAM = "train_args"
TRAIN_STEPS_ALIAS = "train_steps"  # `--param train_steps=N` is sugar for train_args


def default_package_name(target: str) -> str:
    return "imgpipe" + PACKAGE_SUFFIXES[target][0]


def package_format_problem(target: str, path: str) -> Optional[str]:
    """None if `path`'s suffix fits `target`; otherwise what is wrong, for the caller's message."""
    if target not in PACKAGE_SUFFIXES:
        return f"unknown target {target!r}; use one of {', '.join(TARGETS)}"
    wanted = PACKAGE_SUFFIXES[target]
    if path.endswith(wanted):
        return None
    return f"{path!r} does not fit target {target}: it must end in {' or '.join(wanted)}"


def train_args_json(num_steps: int) -> str:
    """The Trainer's TrainArgs as the JSON string the `train_args` runtime parameter carries."""
    return json.dumps({"splits": [TRAIN_SPLIT], "num_steps": int(num_steps)}, sort_keys=True)


def load_pipeline_spec(path: str) -> dict:
    """The PipelineSpec dict of a compiled file (a KFP .yaml, or the `pipelineSpec` of a Vertex .json)."""
    import yaml

    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)  # JSON is YAML
    return data.get("pipelineSpec", data) if isinstance(data, dict) else {}


def runtime_parameter_defaults(path: str) -> Dict[str, Optional[object]]:
    """{name: default or None} of the runtime parameters of a compiled .yaml or .json file."""
    spec = load_pipeline_spec(path)
    params = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: p.get("defaultValue") for name, p in params.items()}
