"""Benchmark: tuned vs default on scikit-learn's digits, at equal training budget. Prints figures.

Both runs are `imgpipe run` on the same 1,442 training digits (bench_real_data.py's export: native 8x8
PNGs, every fifth image of each class held out) with the same `train.*` (so the final Trainer gets the
same epochs, early stopping and schedule); the tuned run adds `tune.trials` trials of `tune.max_epochs`
epochs each, judged on the validation split. Both pushed models are scored on the 355 held-out digits
the pipeline never sees (serving_bytes). The tuning cost is printed beside: it is not free.

    flock /work/scratch/heavy.lock .venv/bin/python -m bench.bench_tuning
    .venv/bin/python -m bench.bench_tuning --trials 4 --algorithm bayesian --work /tmp/bench-tuning

Standalone (not in `make bench`: two whole pipeline runs): measured 2026-12-05 on 2 shared CPU cores, the
default run 66 s, the tuned run 119 s of which the Tuner's 8 trials of 6 epochs 55 s (docs/performance.md).
"""
from __future__ import annotations

import os
import re
import shutil

from bench.bench_real_data import bench_parser, export_sklearn_digits, run_pipeline, score_heldout


def tuner_seconds(summary: str) -> float:
    found = re.search(r"^\s+Tuner\s+([\d.]+) s", summary, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = bench_parser(__doc__, "/tmp/bench-tuning")
    parser.add_argument("--trials", type=int, default=8, help="tune.trials of the tuned run")
    parser.add_argument("--max-epochs", type=int, default=6, help="tune.max_epochs of the tuned run")
    parser.add_argument("--algorithm", default="random", help="tune.algorithm of the tuned run")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    train, heldout = export_sklearn_digits(args.work)
    print(f"scikit-learn digits: {train} given to imgpipe run, {heldout} held out")

    tune = [f"tune.trials={args.trials}", f"tune.max_epochs={args.max_epochs}", f"tune.algorithm={args.algorithm}"]
    rows = []
    for name, overrides in (("default", args.set), ("tuned", args.set + tune)):
        seconds, model, summary = run_pipeline(os.path.join(args.work, "train"),
                                               os.path.join(args.work, f"out-{name}"), overrides)
        accuracy, count = score_heldout(model, os.path.join(args.work, "heldout"))
        tuning = next((line for line in summary.splitlines() if line.startswith("Tuning:")), "")
        rows.append((name, accuracy, count, seconds, tuner_seconds(summary), tuning))

    print(f"\n{'run':<8} {'held-out accuracy':>18} {'run wall s':>11} {'Tuner s':>8}")
    for name, accuracy, count, seconds, tuner, _ in rows:
        print(f"{name:<8} {accuracy:>11.4f} ({count}) {seconds:>11.1f} {tuner:>8.1f}")
    print(f"tuned - default: {rows[1][1] - rows[0][1]:+.4f} held-out accuracy, "
          f"{rows[1][3] / rows[0][3]:.2f}x the wall time")
    print(rows[1][5])


if __name__ == "__main__":
    main()
