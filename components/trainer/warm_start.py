"""train.warm_start: begin from the served model's weights when nothing that shapes them has changed.

A scheduled run trains on a window of recent batches (docs/scheduled-runs.md); starting from the
model already served, rather than from random weights, can reach the same accuracy in fewer epochs.
That is only sound when the served model answers the same question with the same network: the same
class list (labels are indices into it), the same input size, the same model.backbone, and weights
of the same shapes. The
served model is the ServedModelBaseline's copy (the Trainer's `base_model`), its facts are the
`assets.extra/imgpipe.json` the Trainer wrote when it was trained.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from components.pusher.publish import read_model_facts
from components.trainer.spec import FACTS_BACKBONE, FACTS_CLASS_NAMES, FACTS_IMAGE_SIZE
from schemas.backbones import RESNET_CNN


def warm_start(model: keras.Model, base_model: Optional[str], class_names: Sequence[str], image_size: int,
               backbone: str = RESNET_CNN) -> str:
    """Copy the served model's weights into `model` when they fit; say what was done, in words.

    Returns 'warm start from <path>' or 'cold start: <reason>'.
    """
    reason = _mismatch(base_model, list(class_names), image_size, backbone)
    if reason:
        return f"cold start: {reason}"
    served = keras.models.load_model(base_model, compile=False)
    weights = served.get_weights()
    if [w.shape for w in weights] != [w.shape for w in model.get_weights()]:
        return "cold start: the architecture changed since the served model was trained (model.* settings)"
    model.set_weights(weights)
    return f"warm start from the served model {base_model}"


def _mismatch(base_model: Optional[str], class_names: list, image_size: int, backbone: str) -> str:
    """Why the served model's weights cannot seed this training, or '' when they can."""
    if not base_model or not tf.io.gfile.exists(os.path.join(base_model, "saved_model.pb")):
        return "no model is served yet"
    facts = read_model_facts(base_model)
    if facts.get(FACTS_CLASS_NAMES) != class_names:
        return (f"the class list changed (served model: {facts.get(FACTS_CLASS_NAMES) or 'not recorded'}; "
                f"this data: {class_names})")
    if facts.get(FACTS_IMAGE_SIZE) != image_size:
        return f"the image size changed (served model: {facts.get(FACTS_IMAGE_SIZE)} px; now {image_size} px)"
    served_backbone = facts.get(FACTS_BACKBONE, RESNET_CNN)  # models exported before model.backbone: resnet_cnn
    if served_backbone != backbone:
        return f"the backbone changed (served model: {served_backbone}; now model.backbone={backbone})"
    return ""
