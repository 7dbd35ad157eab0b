"""Does the evaluation gate's verdict mean something? Prints figures; it is not a test. Run it under the lock:

    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_gate            # both parts
    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_gate --part separation --runs 8

Two parts:
  separation  scikit-learn's 1797 digits (8x8, upscaled), split 80/10/10 by path hash as the pipeline
              does. The pipeline's model (components/trainer/model.py) is trained 1 epoch and 10
              epochs, several seeds each; every (candidate, served) pair goes through the gate's own
              rules (components/evaluator/paired.judge) on the test split. Known answer: 1 epoch
              served by 10 must be blocked, 10 over 1 blessed. Two runs of the same configuration
              (10 epochs, different seeds: what varies between reruns) must block each other at most
              about 1 - eval.confidence of the time. Per-example correctness is computed here with
              Keras, not TFMA: this part measures the statistics; tests/test_evaluation_gate.py
              shows the TFMA metric counts the same way.
  heldout     the real pipeline (run_local) on the demo data and on digits exported as a folder; the
              test accuracy the gate reports vs the pushed model's accuracy, through its serving_bytes
              signature, on a separate folder the pipeline never saw (demo: drawn with another seed;
              digits: 20% of the images, chosen by path hash, kept out of the pipeline's folder).
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import tempfile
import time
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from components.trainer.model import build_model  # imports components first: Keras 2 before TensorFlow
from components.evaluator.paired import ClassCounts, PairedCounts, judge, mcnemar_p_worse, tally
from components.evaluator.component import gate_rules
from schemas.config import build_config

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

RULES = gate_rules(build_config().eval)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "separation", "heldout"], default="all")
    parser.add_argument("--heldout-cases", default="demo,digits", help="which heldout cases to run")
    parser.add_argument("--runs", type=int, default=8, help="10-epoch models (seeds) for the same-config pairs")
    parser.add_argument("--weak-runs", type=int, default=4, help="1-epoch models (seeds)")
    parser.add_argument("--image-size", type=int, default=16, help="digits are upscaled to this")
    parser.add_argument("--output", default="", help="folder for the heldout part's runs (default: a temp dir)")
    return parser.parse_args()


def path_bucket(path: str) -> int:
    """0-99 from the path's hash: a stand-in for ExampleGen's path-hash split (same shares, not same members)."""
    return int(hashlib.md5(path.encode()).hexdigest(), 16) % 100


def digits(size: int) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Digits as [N, size, size, 3] floats in [0, 1], labels, and a per-image path."""
    from sklearn.datasets import load_digits
    data = load_digits()
    scale = size // 8
    images = np.kron(data.images / 16.0, np.ones((scale, scale)))[..., None].repeat(3, axis=-1)
    paths = [f"{data.target[i]}/digit_{i:04d}.png" for i in range(len(data.target))]
    return images.astype("float32"), data.target.astype("int64"), paths


def train(x, y, epochs: int, seed: int, image_size: int) -> keras.Model:
    cfg = build_config()
    keras.utils.set_random_seed(seed)
    model = build_model(cfg.model, image_size, 10)
    model.compile(optimizer=keras.optimizers.Adam(cfg.train.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    model.fit(x, y, epochs=epochs, batch_size=cfg.train.batch_size, verbose=0, shuffle=True)
    return model


def paired_counts(ours: np.ndarray, theirs: np.ndarray, labels: np.ndarray) -> PairedCounts:
    """The counts PairedGate's combiner would build from the same per-image correctness."""
    counts = PairedCounts(has_baseline=True)
    for mine, other, label in zip(ours.tolist(), theirs.tolist(), labels.tolist()):
        tally(counts, mine, other, True)
        tally(counts.classes.setdefault(str(label), ClassCounts()), mine, other, True)
    return counts


def separation(args) -> None:
    x, y, paths = digits(args.image_size)
    buckets = np.array([path_bucket(p) for p in paths])
    train_mask, test_mask = buckets < 80, buckets >= 90
    start = time.time()
    correct: Dict[str, List[np.ndarray]] = {"1 epoch": [], "10 epochs": []}
    for name, epochs, runs in (("1 epoch", 1, args.weak_runs), ("10 epochs", 10, args.runs)):
        for seed in range(runs):
            model = train(x[train_mask], y[train_mask], epochs, seed, args.image_size)
            correct[name].append(model.predict(x[test_mask], verbose=0).argmax(axis=1) == y[test_mask])
    labels = y[test_mask]
    print(f"digits: {train_mask.sum()} train, {test_mask.sum()} test images at {args.image_size}px; "
          f"{args.weak_runs} x 1 epoch + {args.runs} x 10 epochs trained in {time.time() - start:.0f} s")
    for name, runs in correct.items():
        print(f"  {name}: test accuracy " + ", ".join(f"{c.mean():.3f}" for c in runs))
    _report_pairs("1 epoch served by 10 epochs (must block)", correct["1 epoch"], correct["10 epochs"], labels)
    _report_pairs("10 epochs served by 1 epoch (must bless)", correct["10 epochs"], correct["1 epoch"], labels)
    same = [(a, b) for a, b in itertools.permutations(correct["10 epochs"], 2)]
    _report_pairs("same config, 10 epochs, different seeds", [a for a, _ in same], [b for _, b in same],
                  labels, paired=True)


def _report_pairs(title: str, candidates, served, labels, paired: bool = False) -> None:
    pairs = list(zip(candidates, served)) if paired else list(itertools.product(candidates, served))
    verdicts = [judge(paired_counts(a, b, labels), RULES) for a, b in pairs]
    worse = sum(mcnemar_p_worse(int((a & ~b).sum()), int((b & ~a).sum())) < 1 - RULES.confidence for a, b in pairs)
    blessed = sum(v.blessed for v in verdicts)
    print(f"{title}: {len(pairs)} pairs; blessed {blessed}, blocked {len(pairs) - blessed} "
          f"({(len(pairs) - blessed) / len(pairs):.1%}); McNemar alone says worse in {worse} "
          f"({worse / len(pairs):.1%}); allowed by eval.confidence={RULES.confidence}: "
          f"{1 - RULES.confidence:.0%}")
    print(f"  e.g. {verdicts[0].sentence}")


# ------------------------------------------------------------------ held-out vs a folder never seen

def export_digits(root: str, size: int = 32) -> Tuple[str, str]:
    """Digits as PNG folders: 80% (by path hash) for the pipeline, 20% in a folder it never sees."""
    from sklearn.datasets import load_digits
    data = load_digits()
    paths = [f"{data.target[i]}/digit_{i:04d}.png" for i in range(len(data.target))]
    folders = (os.path.join(root, "digits"), os.path.join(root, "digits_unseen"))
    for image, path in zip(data.images, paths):
        pixels = (np.kron(image / 16.0, np.ones((size // 8, size // 8))) * 255).astype(np.uint8)
        target = os.path.join(folders[path_bucket("unseen/" + path) < 20], path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Image.fromarray(pixels).convert("RGB").save(target)
    return folders


def unseen_accuracy(model_path: str, folder: str) -> Tuple[float, int]:
    from schemas import features
    model = tf.saved_model.load(model_path)
    serve = model.signatures[features.BYTES_SIGNATURE]
    right = total = 0
    classes = [n for n in sorted(os.listdir(folder)) if os.path.isdir(os.path.join(folder, n))]  # skip markers
    for name in classes:
        files = sorted(os.listdir(os.path.join(folder, name)))
        for start in range(0, len(files), 64):
            batch = [open(os.path.join(folder, name, f), "rb").read() for f in files[start:start + 64]]
            out = serve(**{features.BYTES_INPUT: tf.constant(batch)})[features.CLASS_NAME_OUTPUT].numpy()
            right += sum(n.decode() == name for n in out)
            total += len(batch)
    return right / total, total


def heldout(args) -> None:
    from pipeline.local.demo_data import DEMO_SCHEMA
    from pipeline.local.demo_data import ensure_demo_data, generate_demo_data
    from pipeline.local.runner import run_local
    root = args.output or tempfile.mkdtemp(prefix="bench_gate_")
    digits_folder, digits_unseen = export_digits(root)
    cases = [("demo", ensure_demo_data(), generate_demo_data(os.path.join(root, "demo_unseen"), seed=1),
              [f"data.schema_path={DEMO_SCHEMA}"]),
             ("digits", digits_folder, digits_unseen, ["data.image_size=32", "train.epochs=15"])]
    for name, data, unseen, overrides in [c for c in cases if c[0] in args.heldout_cases.split(",")]:
        start = time.time()
        summary = run_local(build_config(overrides=overrides), data, os.path.join(root, "runs", name))
        if summary.error or not summary.pushed_path:
            print(f"{name}: run failed or pushed nothing: {summary.error or summary.gate_sentence}")
            continue
        accuracy, count = unseen_accuracy(summary.pushed_path, unseen)
        print(f"{name}: splits {summary.split_sizes}; gate: {summary.gate_sentence}")
        print(f"{name}: test accuracy reported by the gate {summary.accuracy:.3f} on "
              f"{summary.split_sizes.get('test', 0)} images; accuracy on {count} never-seen images "
              f"{accuracy:.3f}; run {time.time() - start:.0f} s")


def main() -> None:
    args = parse_args()
    if args.part in ("all", "separation"):
        separation(args)
    if args.part in ("all", "heldout"):
        heldout(args)


if __name__ == "__main__":
    main()
