"""Benchmark: `imgpipe run` with no --set on real images that ship in a package.

scikit-learn's digits (1,797 handwritten digits, 8x8 grey, 17 grey levels) are
exported as native 8x8 PNGs -- not upscaled, so the pipeline sees the data as
it really is -- into `<work>/train/<digit>/` and a held-out `<work>/heldout/<digit>/`
(every fifth image of each class) that the pipeline never sees. The pipeline is
run as a user would (`imgpipe run --data <work>/train --output <work>/output`),
and the pushed model is scored on the held-out folder through its
`serving_bytes` signature, i.e. exactly what a client sends.

`--dataset photos` does the same with colour photographs: 32x32 JPEG tiles of the three
photos that ship in installed packages (scikit-learn's china.jpg and flower.jpg,
matplotlib's grace_hopper.jpg), one class per photo: which photo is this patch from?
Texture and colour, no fixed orientation cue a flip would break.

Run it under the shared lock (it trains):
    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_real_data --work /tmp/bench-digits
To measure another checkout (e.g. main before a change), put it first on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

HELD_OUT_EVERY = 5  # every fifth image of each class is held out


def export_sklearn_digits(work: str) -> Tuple[int, int]:
    """Write the digits as 8x8 grey PNGs (dark ink on white, like a scan); returns (train, held-out) counts."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts = {"train": 0, "heldout": 0}
    seen: Dict[int, int] = {}
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        seen[label] = seen.get(label, 0) + 1
        part = "heldout" if seen[label] % HELD_OUT_EVERY == 0 else "train"
        folder = os.path.join(work, part, str(label))
        os.makedirs(folder, exist_ok=True)
        grey = (255 - np.round(pixels * 255 / 16)).astype(np.uint8)
        Image.fromarray(grey, mode="L").save(os.path.join(folder, f"digit_{index:04d}.png"))
        counts[part] += 1
    return counts["train"], counts["heldout"]


PHOTO_TILE = 32


def export_photo_tiles(work: str) -> Tuple[int, int]:
    """Write PHOTO_TILE-pixel JPEG (q90) tiles of each sample photo into a class named after it."""
    from matplotlib import cbook
    from sklearn.datasets import load_sample_images

    photos = dict(zip(("china", "flower"), load_sample_images().images))
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos["portrait"] = np.asarray(Image.open(handle).convert("RGB"))
    counts = {"train": 0, "heldout": 0}
    for label, photo in photos.items():
        tiles = [photo[y:y + PHOTO_TILE, x:x + PHOTO_TILE]
                 for y in range(0, photo.shape[0] - PHOTO_TILE + 1, PHOTO_TILE)
                 for x in range(0, photo.shape[1] - PHOTO_TILE + 1, PHOTO_TILE)]
        for index, tile in enumerate(tiles):
            part = "heldout" if (index + 1) % HELD_OUT_EVERY == 0 else "train"
            folder = os.path.join(work, part, label)
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(tile)).save(os.path.join(folder, f"tile_{index:04d}.jpg"), quality=90)
            counts[part] += 1
    return counts["train"], counts["heldout"]


DATASETS = {"digits": (export_sklearn_digits, "sklearn digits, native 8x8 PNG"),
            "photos": (export_photo_tiles, f"sample photos, {PHOTO_TILE}x{PHOTO_TILE} JPEG tiles, 3 classes")}


def run_pipeline(data: str, output: str, overrides: List[str]) -> Tuple[float, str, str]:
    """`imgpipe run` (no --set unless `overrides`); returns (wall seconds, pushed model path, the summary it printed).

    It runs in the scratch folder, so `python -m` finds the package on PYTHONPATH
    or where it is installed, never in the current directory.
    """
    start = time.monotonic()
    command = [sys.executable, "-m", "pipeline", "run", "--data", data, "--output", output]
    proc = subprocess.run(command + [arg for o in overrides for arg in ("--set", o)],
                          capture_output=True, text=True, check=False, cwd=os.path.dirname(output))
    seconds = time.monotonic() - start
    found = re.search(r"^Pushed model: (.+)$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not found or found.group(1) == "none":
        raise SystemExit(f"imgpipe run failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, found.group(1).strip(), proc.stdout


def score_heldout(model_dir: str, heldout: str) -> Tuple[float, int]:
    """Accuracy of the pushed model's serving_bytes signature on the held-out folder."""
    import tensorflow as tf

    predict = tf.saved_model.load(model_dir).signatures["serving_bytes"]
    paths: List[Tuple[str, str]] = [(os.path.join(heldout, c, f), c) for c in sorted(os.listdir(heldout))
                                    for f in sorted(os.listdir(os.path.join(heldout, c)))]
    correct = 0
    for start in range(0, len(paths), 256):
        batch = paths[start:start + 256]
        data = [open(p, "rb").read() for p, _ in batch]
        names = predict(image_bytes=tf.constant(data))["class_name"].numpy()
        correct += sum(n.decode() == c for n, (_, c) in zip(names, batch))
    return correct / len(paths), len(paths)


def bench_parser(doc: str, work: str) -> argparse.ArgumentParser:
    """The options every real-data bench shares: its scratch folder and config overrides."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=work, help="scratch folder (emptied first)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override passed to imgpipe run (default: none, as a new user runs it)")
    return parser


def main() -> None:
    parser = bench_parser(__doc__, "/tmp/bench-real-data")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits", help="which real images")
    parser.add_argument("--label", default="this checkout", help="name of this measurement in the table")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    export, title = DATASETS[args.dataset]
    n_train, n_heldout = export(args.work)
    seconds, model_dir, printed = run_pipeline(os.path.join(args.work, "train"), os.path.join(args.work, "output"),
                                               args.set)
    accuracy, n_scored = score_heldout(model_dir, os.path.join(args.work, "heldout"))
    keep = [line for line in printed.splitlines()
            if line.startswith(("Image size", "Training", "Data warning", "Test accuracy:", "  Trainer", "  total"))]
    print("\n".join(keep))
    print("\n| data set | checkout | images given | held out | held-out accuracy | wall time |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| {title} | {args.label} | {n_train} | {n_scored} | {accuracy:.4f} "
          f"| {seconds:.0f} s |")


if __name__ == "__main__":
    main()
