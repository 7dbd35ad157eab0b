"""Does train.warm_start reach the same test accuracy sooner? Prints figures; it is not a test. Under the lock:

    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_warm_start
    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_warm_start --target 0.99 --seeds 3

scikit-learn's 1797 digits (8x8, upscaled to 32 px) cut into three spans of ~600 images, as batches
arriving on three days; each span split 80/20 by path hash. The "served" model is trained on spans 1
and 2 (cold, --served-epochs). Then, for the run that finds span 3 with a window of 2 (spans 2 and 3):
a cold start and a warm start (components/trainer/warm_start.warm_start, from the served model saved as
the Trainer exports it) each train epoch by epoch until the window's test images reach --target
accuracy (at most --max-epochs). Printed: epochs and seconds to the target, side by side, per seed.
Keras training here, not the pipeline: this measures the initialisation, not the TFX run around it.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from bench.bench_gate import digits, path_bucket
from components.trainer.model import build_model  # imports components first: Keras 2 before TensorFlow
from components.trainer.spec import MODEL_FACTS_FILE
from components.trainer.warm_start import warm_start
from schemas.config import build_config

import tf_keras as keras  # noqa: E402

SIZE = 32
CLASSES = [str(d) for d in range(10)]


def compiled(model: keras.Model, lr: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    return model


def epochs_to_target(model, train, test, target: float, max_epochs: int, batch: int):
    """(epochs, seconds, test accuracy after each epoch) until test accuracy >= target; epochs None if never."""
    started, curve = time.monotonic(), []
    for epoch in range(1, max_epochs + 1):
        model.fit(*train, epochs=1, batch_size=batch, verbose=0, shuffle=True)
        curve.append(model.evaluate(*test, verbose=0)[1])
        if curve[-1] >= target:
            return epoch, time.monotonic() - started, curve
    return None, time.monotonic() - started, curve


def save_served(model: keras.Model, path: str) -> str:
    """The served model as the Trainer leaves it: a SavedModel and assets.extra/imgpipe.json."""
    model.save(path, save_format="tf")
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, *MODEL_FACTS_FILE.split("/")), "w") as f:
        json.dump({"image_size": SIZE, "class_names": CLASSES}, f)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.985)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--served-epochs", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=25)
    args = parser.parse_args()
    cfg = build_config()
    x, y, paths = digits(SIZE)
    span = np.arange(len(y)) * 3 // len(y) + 1            # spans 1, 2, 3 in arrival order
    test = np.array([path_bucket(p) < 20 for p in paths])
    pick = lambda spans, is_test: (x[np.isin(span, spans) & (test == is_test)],  # noqa: E731
                                   y[np.isin(span, spans) & (test == is_test)])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            served = compiled(build_model(cfg.model, SIZE, 10), cfg.train.learning_rate)
            served.fit(*pick([1, 2], False), epochs=args.served_epochs, batch_size=cfg.train.batch_size, verbose=0)
            path = save_served(served, os.path.join(tmp, f"served-{seed}"))
            for kind in ("cold", "warm"):
                keras.utils.set_random_seed(seed + 100)
                model = build_model(cfg.model, SIZE, 10)
                said = warm_start(model, path, CLASSES, SIZE) if kind == "warm" else "cold start"
                result = epochs_to_target(compiled(model, cfg.train.learning_rate), pick([2, 3], False),
                                          pick([2, 3], True), args.target, args.max_epochs, cfg.train.batch_size)
                rows.append((seed, kind, *result))
                print(f"seed {seed} {kind:4}: {said.split(' from')[0]}; epochs to {args.target:.3f} test accuracy: "
                      f"{result[0] or f'>{args.max_epochs}'}, {result[1]:.1f} s; accuracy by epoch "
                      + " ".join(f"{a:.3f}" for a in result[2]), flush=True)
    for kind in ("cold", "warm"):
        got = [r for r in rows if r[1] == kind]
        print(f"{kind}: mean {np.mean([r[3] for r in got]):.1f} s; epochs " + ", ".join(str(r[2]) for r in got))


if __name__ == "__main__":
    main()
