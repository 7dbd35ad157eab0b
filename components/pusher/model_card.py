"""The model card a pushed version carries: its artifact type, its files, and reading them for the push.

The card is written by the ModelCard step (pipeline/history/model_card/), which reads every step's
outputs and so sits above the components; the Pusher only copies its files into the version's
`assets.extra/`, before the version's manifest (integrity.py), so the manifest covers them.
"""
from __future__ import annotations

from typing import Dict

from tfx import v1 as tfx

from components.fs import fs_for, is_remote, local_path, open_file
from components.pusher.spec import CARD_FILES, CARD_VERSION_DIR


class ModelCardFiles(tfx.dsl.Artifact):
    """model_card.md and model_card.json (schema: docs/model-card.md)."""
    TYPE_NAME = "imgpipe.ModelCard"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


def card_files(card_uri: str) -> Dict[str, bytes]:
    """{path inside a version: content} of the card at `card_uri`; {} when it holds none."""
    base = (local_path(card_uri) if not is_remote(card_uri) else card_uri).rstrip("/")
    found = {}
    for name in CARD_FILES:
        if fs_for(base).exists(f"{base}/{name}"):
            with open_file(f"{base}/{name}", "rb") as f:
                found[f"{CARD_VERSION_DIR}/{name}"] = f.read()
    return found
