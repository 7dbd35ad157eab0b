"""Is there a span the served model has not been trained on? (data.span_pattern runs only)

Answered from a listing of the data root (components/image_example_gen/spans.py) and the served
model's `assets.extra/imgpipe.json`, where the Trainer records the spans it trained on. Locally
neither needs TFX or TensorFlow, so `imgpipe run` asks before starting the pipeline and a scheduled
run with nothing new stops in a second; on Kubeflow the NewDataCheck component asks the same
question as the pipeline's first step (components/new_data/component.py).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from components.fs import folder_fingerprint
from components.image_example_gen.spans import SpanFolder
from components.new_data.judged import batch_key, judged
from components.pusher.publish import latest_served_version, read_model_facts
from components.trainer.spec import FACTS_SPANS


NOTHING_TO_DO = "nothing to train on, nothing pushed"  # what every "nothing new" line ends with


def served_spans(serving_model_dir: str) -> Tuple[Optional[int], List[int]]:
    """(version, spans trained on) of the model TF Serving serves from this dir; (None, []) if none.

    The served model is the highest numeric version holding a SavedModel (after
    a rollback: the version rolled back to). A model pushed before spans were
    recorded has no `spans`: it counts as trained on none.
    """
    path = latest_served_version(serving_model_dir)
    if path is None:
        return None, []
    version = int(path.rstrip("/").rsplit("/", 1)[1])
    return version, [int(s) for s in read_model_facts(path).get(FACTS_SPANS, [])]


def nothing_new(folders: Sequence[SpanFolder], serving_model_dir: str, data_root: str = "",
                settings: str = "") -> str:
    """The stop message when the newest span to read is one the served model was trained on, or one already
    judged against the served model with these settings and not blessed (judged.py); '' otherwise.

    "Trained on" is by span number: a span newer than every span of the served
    model is new; a late-arriving older span is not (pick it with `--span N`). The judged check needs
    the data root and the settings token (judged.settings_token); without them it is skipped.
    """
    if not folders:
        return ""
    version, spans = served_spans(serving_model_dir)
    if spans and folders[-1].span <= max(spans):
        return f"No new data since span {max(spans)}, served by version {version}"
    if not (data_root and settings):
        return ""
    record = judged(serving_model_dir, folders[-1].span, newest_batch_key(data_root, folders, settings), version)
    if record is None:
        return ""
    return (f"No new data since span {record.span} (judged {record.judged_at}: {record.verdict}; "
            f"served: {'none' if version is None else f'version {version}'})")


def newest_batch_key(data_root: str, folders: Sequence[SpanFolder], settings: str) -> str:
    """What makes the newest span's batch the same batch: its folder's listing, and the settings."""
    return batch_key(folder_fingerprint(f"{data_root.rstrip('/')}/{folders[-1].name}"), settings)
