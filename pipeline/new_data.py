"""Before a scheduled run starts: is there a span the served model has not been trained on?

Answered from a listing of the data root (components/image_example_gen/spans.py)
and the served model's `assets.extra/imgpipe.json`, where the Trainer records
the spans it trained on. Neither needs TFX or TensorFlow, so a run with nothing
new stops in seconds instead of re-ingesting and retraining on the same data.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence, Tuple

from components.image_example_gen.spans import SpanFolder
from components.pusher.publish import latest_served_version
from schemas import features


def served_spans(serving_model_dir: str) -> Tuple[Optional[int], List[int]]:
    """(version, spans trained on) of the model TF Serving serves from this local dir; (None, []) if none.

    The served model is the highest numeric version holding a SavedModel (after
    a rollback: the version rolled back to). A model pushed before spans were
    recorded has no `spans`: it counts as trained on none.
    """
    path = latest_served_version(serving_model_dir)
    if path is None:
        return None, []
    version = int(path.rsplit("/", 1)[1])
    facts_path = os.path.join(path, *features.MODEL_FACTS_FILE.split("/"))
    if not os.path.isfile(facts_path):
        return version, []
    with open(facts_path, encoding="utf-8") as f:
        return version, [int(s) for s in json.load(f).get(features.SPANS_KEY, [])]


def nothing_new(folders: Sequence[SpanFolder], serving_model_dir: str) -> str:
    """The stop message when the newest span to read is one the served model was trained on; '' otherwise.

    "Trained on" is by span number: a span newer than every span of the served
    model is new; a late-arriving older span is not (pick it with `--span N`).
    """
    if not folders:
        return ""
    version, spans = served_spans(serving_model_dir)
    if not spans or folders[-1].span > max(spans):
        return ""
    return f"No new data since span {max(spans)}, served by version {version}"
