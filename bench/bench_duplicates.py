"""Benchmark: the near-duplicate finder (components/image_validation/leakage.py) on real images.

Real images that ship in scikit-learn, no download:
- digits: the 1,797 handwritten digits of `load_digits`, as native 8x8 grey PNGs;
- photos: 64x64 tiles cut from the two `load_sample_images` photos (china, flower),
  keeping tiles with texture (grey std >= 10; a blank patch of sky is not a picture);
- held out: the same tiles of matplotlib's sample portrait (grace_hopper.jpg). The
  thresholds were chosen looking at the three sets above; this one had no say, so
  its row is the estimate to trust.

Three measurements, each through the real per-image facts code (image_facts on a
tf.Example) and the real finder:
1. distinct images only (each data set split in two halves, as train and test):
   every reported pair is a false alarm;
2. planted copies: each original is in train, its modified copies in test; a pair
   (original, its copy) is a hit, any other pair a false alarm. Copies are
   re-encoded as JPEG q75, resized, slightly cropped (photos: 4% of each side's
   length, centred or all from one corner; an 8x8 digit has no 4% to crop),
   brightened (+25 grey levels) and contrast-stretched (x1.2);
3. both of the above with the finder as it was before (dHash within the distance,
   no confirmation), for comparison.

    .venv/bin/python -m bench.bench_duplicates      # ~1 minute, no pipeline, no lock needed
"""
from __future__ import annotations

import io
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from components.image_validation.facts import ImageFacts, image_facts
from components.image_validation.leakage import Leak, dhash_candidates, exact_leaks, near_leaks, pattern
from schemas.config import ValidationConfig

TILE = 64
MIN_TILE_STD = 10.0
DIGIT_SAMPLE_EVERY = 3  # every third digit gets planted copies


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: Image.Image, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def shifted(image: Image.Image, scale: float, offset: float) -> bytes:
    pixels = np.asarray(image, dtype=np.float64) * scale + offset
    return png(Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), mode=image.mode))


def crop(image: Image.Image, fraction: float = 0.04, centred: bool = True) -> bytes:
    """`fraction` of the width and height cut off: half on each side, or all from the top-left corner."""
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    if centred:
        return png(image.crop((dx // 2, dy // 2, image.width - (dx - dx // 2), image.height - (dy - dy // 2))))
    return png(image.crop((dx, dy, image.width, image.height)))


def resized(image: Image.Image, factor: float) -> bytes:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return png(image.resize(size, Image.Resampling.BICUBIC))


COPIES: Dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg q75": jpeg,
    "resized x4": lambda im: resized(im, 4),
    "resized x0.5": lambda im: resized(im, 0.5),
    "centre-cropped 4%": crop,
    "corner-cropped 4%": lambda im: crop(im, centred=False),
    "brightened +25": lambda im: shifted(im, 1.0, 25),
    "contrast x1.2": lambda im: shifted(im, 1.2, -0.1 * 255),
}
NOT_FOR_DIGITS = ("resized x0.5", "centre-cropped 4%", "corner-cropped 4%")  # an 8x8 digit has no detail to spare


def digits() -> List[Image.Image]:
    from sklearn.datasets import load_digits
    return [Image.fromarray((255 - np.round(p * 255 / 16)).astype(np.uint8), mode="L") for p in load_digits().images]


def demo_drawings() -> List[Image.Image]:
    """The embedded demo data (pipeline/local/demo_data.py): 360 drawn shapes, many nearly alike."""
    import glob
    import os
    from pipeline.local.demo_data import ensure_demo_data
    paths = sorted(glob.glob(os.path.join(ensure_demo_data(), "*", "*.*")))
    return [Image.open(p).convert("RGB") for p in paths]


def photo_tiles() -> List[Image.Image]:
    from sklearn.datasets import load_sample_images
    return _textured_tiles(load_sample_images().images)


def _textured_tiles(photos: Sequence[np.ndarray]) -> List[Image.Image]:
    """TILE x TILE tiles of the photos with grey std >= MIN_TILE_STD."""
    tiles = []
    for photo in photos:
        for y in range(0, photo.shape[0] - TILE + 1, TILE):
            for x in range(0, photo.shape[1] - TILE + 1, TILE):
                tile = np.ascontiguousarray(photo[y:y + TILE, x:x + TILE])
                if np.asarray(Image.fromarray(tile).convert("L"), dtype=np.float64).std() >= MIN_TILE_STD:
                    tiles.append(Image.fromarray(tile))
    return tiles


def held_out_tiles() -> List[Image.Image]:
    """64x64 tiles of matplotlib's sample portrait (grace_hopper.jpg): photos that played no part in
    choosing the finder's thresholds, so their row is the honest one."""
    from matplotlib import cbook
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        photo = np.asarray(Image.open(handle).convert("RGB"))
    return _textured_tiles([photo])


def facts_of(encoded: bytes, split: str, path: str) -> ImageFacts:
    import tensorflow as tf
    example = tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
        "label_name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"]))}))
    return image_facts(example.SerializeToString(), split)


def planted(images: Sequence[Image.Image], name: str, every: int) -> Tuple[List[ImageFacts], Dict[str, str]]:
    """Originals in train and their copies in test; returns the facts and {copy path: its kind}."""
    facts = [facts_of(png(im), "train", f"{name}/{i}") for i, im in enumerate(images)]
    kinds = {}
    for i in range(0, len(images), every):
        for kind, make in COPIES.items():
            if name == "digits" and kind in NOT_FOR_DIGITS:
                continue
            path = f"{name}/{i}~{kind}"
            facts.append(facts_of(make(images[i]), "test", path))
            kinds[path] = kind
    return facts, kinds


def find(facts: Sequence[ImageFacts], cfg: ValidationConfig, mode: str):
    """The finder as configured ("now"), or as it was: "dhash" (dHash within the distance, unconfirmed) or
    "correlation" (every pair, 8x8 correlation >= 0.985 alone: the first try of issue 13)."""
    train = [f for f in facts if f.split == "train"]
    eval_ = [f for f in facts if f.split == "test"]
    if mode == "dhash":
        return exact_leaks(train, eval_) + [Leak(t.path, e.path, "near", bits) for t, e, bits
                                            in dhash_candidates(train, eval_, cfg.near_duplicate_hamming)]
    if mode == "correlation":
        return exact_leaks(train, eval_) + correlation_only(train, eval_, 0.985)
    return exact_leaks(train, eval_) + near_leaks(train, eval_, cfg.near_duplicate_hamming,
                                                  cfg.near_duplicate_min_similarity, cfg.near_duplicate_ratio)


def correlation_only(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], threshold: float):
    """Pairs whose 8x8 thumbnails correlate at `threshold` or more, nothing else checked."""
    scores = (np.array([pattern(e) for e in eval_]).reshape(len(eval_), -1)
              @ np.array([pattern(t) for t in train]).reshape(len(train), -1).T)
    return [Leak(train[j].path, eval_[i].path, "near", 0, float(scores[i, j]))
            for i, j in zip(*np.nonzero(scores >= threshold)) if train[j].sha256 != eval_[i].sha256]


def score(facts: Sequence[ImageFacts], kinds: Dict[str, str], cfg: ValidationConfig, mode: str):
    leaks = find(facts, cfg, mode)
    hits = {leak.held_out_path for leak in leaks if leak.held_out_path.split("~")[0] == leak.train_path}
    false = sum(leak.held_out_path.split("~")[0] != leak.train_path for leak in leaks)
    per_kind = {kind: (sum(p in hits for p, k in kinds.items() if k == kind), sum(k == kind for k in kinds.values()))
                for kind in COPIES}
    precision = len(hits) / max(len(hits) + false, 1)
    return precision, len(hits) / max(len(kinds), 1), false, per_kind


def distinct_pairs(images: Sequence[Image.Image], name: str, cfg: ValidationConfig, mode: str):
    facts = [facts_of(png(im), "train" if i % 2 else "test", f"{name}/{i}") for i, im in enumerate(images)]
    return find(facts, cfg, mode)


def main() -> None:
    cfg = ValidationConfig()
    sets = {"digits (8x8)": (digits(), "digits", DIGIT_SAMPLE_EVERY),
            "photo tiles (64x64)": (photo_tiles(), "photos", 1),
            "demo drawings (48x48)": (demo_drawings(), "demo", DIGIT_SAMPLE_EVERY),
            "held out: portrait tiles (64x64)": (held_out_tiles(), "portrait", 1)}
    modes = [("dHash only (main)", "dhash"), ("8x8 correlation >= 0.985 only (first try)", "correlation"),
             ("correlation, runner-up ratio, colour (now)", "now")]
    print(f"validation: near_duplicate_hamming={cfg.near_duplicate_hamming}, near_duplicate_min_similarity="
          f"{cfg.near_duplicate_min_similarity}, near_duplicate_ratio={cfg.near_duplicate_ratio}\n")
    print("| data set | finder | distinct images | pairs among distinct | planted copies | precision | recall | "
          + " | ".join(COPIES) + " |")
    print("|" + " --- |" * (7 + len(COPIES)))
    for label, (images, name, every) in sets.items():
        facts, kinds = planted(images, name, every)
        for label_mode, mode in modes:
            false_distinct = len(distinct_pairs(images, name, cfg, mode))
            precision, recall, _, per_kind = score(facts, kinds, cfg, mode)
            cells = " | ".join(f"{found}/{total}" if total else "-" for found, total in per_kind.values())
            print(f"| {label} | {label_mode} | {len(images)} | {false_distinct} | {len(kinds)} | {precision:.3f} | "
                  f"{recall:.3f} | {cells} |")


if __name__ == "__main__":
    main()
