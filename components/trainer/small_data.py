"""Below how many training images the from-scratch CNN stops being reliable, and the one line that says so.

The floor is measured, not guessed: bench/bench_small_data.py trains the default
recipe on class-balanced subsets of real digits (MNIST) and of the demo's shapes,
several seeds per size, and scores each model on images it never saw
(docs/model.md#small-data). Below the floor some seeds fall short of what the
same recipe reaches with more images, so a run's verdict depends on luck.

Pure Python: the run summary and the HTML report import it without TensorFlow.
"""
from __future__ import annotations

from typing import Mapping

MIN_TRAIN_IMAGES_PER_CLASS = 60  # measured: the demo was unreliable at 30 per class, reliable at 60 (docs/model.md)
FROM_SCRATCH_BACKBONE = "resnet_cnn"  # model.backbone's from-scratch value (the only network before backbones)
SUGGESTED_BACKBONE = "mobilenet_v3_small"


def small_data_line(train_counts: Mapping[str, int], backbone: str = FROM_SCRATCH_BACKBONE) -> str:
    """`Small data: ...` naming the smallest class and the remedies, or "" when every class has enough images.

    `train_counts` is images per class in the train split. A pretrained backbone
    (any model.backbone but the from-scratch CNN) is the remedy already, so no line.
    """
    if not train_counts or backbone != FROM_SCRATCH_BACKBONE:
        return ""
    name, count = min(sorted(train_counts.items()), key=lambda item: item[1])
    if count >= MIN_TRAIN_IMAGES_PER_CLASS:
        return ""
    return (f"Small data: class {name!r} has {count} training image(s); below {MIN_TRAIN_IMAGES_PER_CLASS} per "
            f"class the CNN trained from scratch is unreliable (docs/model.md#small-data): add images, or "
            f"fine-tune a pretrained backbone (--set model.backbone={SUGGESTED_BACKBONE}).")
