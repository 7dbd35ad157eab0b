"""Charts and pictures for the report, each returned as PNG bytes (the renderer inlines them).

matplotlib with the Agg backend: no display and no network needed.
"""
from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

THUMBNAIL_PX = 72


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def class_counts(counts: Dict[str, Dict[str, int]]) -> bytes:
    """Grouped bars: images per class, one bar per split."""
    plt = _pyplot()
    classes = sorted({c for per_split in counts.values() for c in per_split})
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(classes) + 2), 3))
    width = 0.8 / max(1, len(counts))
    for i, (split, per_class) in enumerate(counts.items()):
        ax.bar(np.arange(len(classes)) + i * width, [per_class.get(c, 0) for c in classes], width, label=split)
    ax.set_xticks(np.arange(len(classes)) + width * (len(counts) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.legend(title="split", loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the bars, never over them
    return _png(fig)


def image_sizes(sizes: Sequence[Tuple[int, int]]) -> bytes:
    """Width against height of every image, and the aspect ratio (width / height) histogram."""
    plt = _pyplot()
    widths, heights = np.array([s[0] for s in sizes]), np.array([s[1] for s in sizes])
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    left.scatter(widths, heights, s=8, alpha=0.5)
    left.set_xlabel("width (px)")
    left.set_ylabel("height (px)")
    right.hist(widths / np.maximum(heights, 1), bins=20)
    right.set_xlabel("aspect ratio (width / height)")
    right.set_ylabel("images")
    return _png(fig)


def learning_curves(history: List[Dict[str, float]], best_epoch: Optional[int]) -> bytes:
    """Loss and accuracy per epoch, training and validation; a dashed line at the kept epoch."""
    plt = _pyplot()
    epochs = np.arange(1, len(history) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = [h.get(key) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], marker="o", label=label)
        if best_epoch:
            ax.axvline(best_epoch, linestyle="--", color="grey", label=f"kept epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    return _png(fig)


def confusion(cells: np.ndarray, class_names: Sequence[str], title: str) -> bytes:
    """Heatmap of [actual, predicted] counts with each count written in its cell."""
    plt = _pyplot()
    size = max(3, 0.6 * len(class_names) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cells, cmap="Blues")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=30, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    top = cells.max() if cells.size else 0
    for (i, j), n in np.ndenumerate(cells):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
    return _png(fig)


def thumbnail(encoded: bytes) -> bytes:
    """Any encoded image Pillow reads -> an RGB PNG at most THUMBNAIL_PX on its long side."""
    from PIL import Image
    with Image.open(io.BytesIO(encoded)) as image:
        image.seek(0)
        return pixels_png(np.asarray(image.convert("RGB")))


def heatmap_png(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> bytes:
    """The image ([H, W, 3] in [0, 1]) with a [0, 1] heatmap over it, blue (0) to red (1), as pixels_png."""
    import matplotlib
    colours = matplotlib.colormaps["jet"](heatmap)[..., :3]
    return pixels_png(np.clip((1 - alpha) * image + alpha * colours, 0.0, 1.0))


def pixels_png(pixels: np.ndarray) -> bytes:
    """uint8 [H, W, 3], or float in [0, 1], -> PNG scaled to THUMBNAIL_PX (nearest: tiny images stay crisp)."""
    from PIL import Image
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels)
    scale = THUMBNAIL_PX / max(image.size)
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), resample)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
