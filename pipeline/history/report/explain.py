"""The report's explanations: Grad-CAM heatmaps (components/trainer/grad_cam.py) of the candidate over its
most confident mistakes and over one correctly classified image per class (its most confident right answer).

The heatmap is of the class the model predicted: for a mistake, what made it say the wrong class.
Images are prepared as Transform does (decode_and_resize at the model's input size), so the map lies
over exactly what the network saw.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from pipeline.history.report import charts


def one_right_per_class(rows: Sequence[dict]) -> List[dict]:
    """For each class, the correctly classified image with the highest probability (ties: by path)."""
    best = {}
    for row in rows:
        predicted = int(np.argmax(row["probabilities"]))
        if predicted == row["label"]:
            key = (-float(np.max(row["probabilities"])), row["path"])
            if row["label"] not in best or key < best[row["label"]][0]:
                best[row["label"]] = (key, row)
    return [best[label][1] for label in sorted(best)]


def explanations(model, mistakes: Sequence[dict], right: Sequence[dict],
                 class_names: Sequence[str]) -> List[dict]:
    """[{path, kind ('mistake' | 'right'), true, predicted, probability, original, heatmap}]: PNG thumbnails of
    the image as the Keras `model` (model_facts.load_model) saw it and of the Grad-CAM of its predicted class over it."""
    chosen = [("mistake", r) for r in mistakes] + [("right", r) for r in right]
    if not chosen:
        return []
    import tensorflow as tf
    from components.trainer.grad_cam import grad_cam
    from components.transform.preprocessing import decode_and_resize
    size = int(model.inputs[0].shape[1])
    images = np.stack([decode_and_resize(tf.constant(r["image"]), size).numpy() for _, r in chosen])
    predicted = [int(np.argmax(r["probabilities"])) for _, r in chosen]
    heatmaps = grad_cam(model, images, predicted)
    return [{"path": r["path"], "kind": kind, "true": class_names[r["label"]], "predicted": class_names[p],
             "probability": float(np.max(r["probabilities"])), "original": charts.pixels_png(image),
             "heatmap": charts.heatmap_png(image, heatmap)}
            for (kind, r), p, image, heatmap in zip(chosen, predicted, images, heatmaps)]
