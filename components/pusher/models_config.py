"""`models.config` beside the versions: a TF Serving model config with version labels.

Rewritten after every push, prune and rollback, so `stable` always names the
version TF Serving should serve and `previous` the one before it. TF Serving
reads it with `--model_config_file=/models/<model>/models.config` (docs/serving.md);
the file name is not numeric, so the version scan ignores it.
"""
from __future__ import annotations

import os
from typing import List

from components.fs import is_remote, local_path
from components.pusher.publish import served_versions

MODELS_CONFIG_FILE = "models.config"
CONTAINER_MODELS_ROOT = "/models"  # where the docker command in docs/serving.md mounts the serving folder


def models_config_text(model_name: str, versions: List[int]) -> str:
    """The text proto: the newest two versions loaded, labelled `stable` and `previous`."""
    chosen = sorted(versions)[-2:]
    labels = dict(zip(("stable", "previous"), reversed(chosen)))
    lines = ["model_config_list {", "  config {", f'    name: "{model_name}"',
             f'    base_path: "{CONTAINER_MODELS_ROOT}/{model_name}"', '    model_platform: "tensorflow"']
    if chosen:
        lines.append("    model_version_policy { specific { "
                     + " ".join(f"versions: {v}" for v in chosen) + " } }")
    lines += [f'    version_labels {{ key: "{k}" value: {v} }}' for k, v in labels.items()]
    return "\n".join(lines + ["  }", "}", ""])


def write_models_config(model_dir: str, model_name: str) -> str:
    """Write `<model_dir>/models.config` for the versions now served (replaced in one rename locally)."""
    path = f"{model_dir.rstrip('/')}/{MODELS_CONFIG_FILE}"
    text = models_config_text(model_name, served_versions(model_dir))
    if not is_remote(path):
        with open(local_path(path) + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(local_path(path) + ".tmp", local_path(path))
    else:
        import tensorflow as tf
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(text)
    return path
