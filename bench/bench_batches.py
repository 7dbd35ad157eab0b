"""Benchmark: does training give up early on small batches? Prints figures; it is not a test.

The demo's 600 images are split into two batch folders of 300 (the first and the last
100 of each class: `round-1/`, `round-2/`), as a team that receives a few hundred images
at a time would have them. Each batch is trained by `imgpipe run --span N` in a fresh
output folder (a first run: no served model, the gate's floors decide) with
`data.span_pattern=round-{SPAN}` and `train.seed=S`, nothing else set. Then the whole
demo (`imgpipe run`, no --data: the same 600 images) is run once per seed.

What is checked (issue 21): no run keeps an epoch of the first third of train.epochs,
every batch run reaches test accuracy >= 0.90, the full demo >= 0.95.

    flock /tmp/imgpipe-heavy.lock .venv/bin/python -m bench.bench_batches --seeds 1,2,3,4,5
    .venv/bin/python -m bench.bench_batches --seeds 42 --full-demo-seeds 42 --work /tmp/bench-batches
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from typing import List, Optional

from pipeline.local.demo_data import generate_demo_data
from schemas.config import TrainConfig

BATCHES = ("round-1", "round-2")
SPAN_PATTERN = "round-{SPAN}"
BATCH_FLOOR, FULL_DEMO_FLOOR = 0.90, 0.95


def split_demo(work: str) -> str:
    """<work>/batches/round-{1,2}/<class>/...: the demo's images, the first half of each class in round-1."""
    demo = generate_demo_data(os.path.join(work, "demo"))  # the images `imgpipe run` draws with no --data
    root = os.path.join(work, "batches")
    for name in sorted(n for n in os.listdir(demo) if not n.startswith(".")):
        files = sorted(os.listdir(os.path.join(demo, name)))
        for index, file in enumerate(files):
            folder = os.path.join(root, BATCHES[0] if index < len(files) // 2 else BATCHES[1], name)
            os.makedirs(folder, exist_ok=True)
            shutil.copy(os.path.join(demo, name, file), os.path.join(folder, file))
    return root


def run(output: str, args: List[str]) -> dict:
    """One `imgpipe run` in a fresh `output` (the demo drawn under its folder); the facts its summary printed."""
    shutil.rmtree(output, ignore_errors=True)
    start = time.monotonic()
    env = {**os.environ, "IMGPIPE_CACHE": os.path.join(os.path.dirname(output), "cache")}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--output", output, "--quiet"] + args,
                          capture_output=True, text=True, check=False, cwd=os.path.dirname(output), env=env)
    seconds = time.monotonic() - start
    kept = re.search(r"^Training: kept epoch (\d+) of (\d+) \((.*)$", proc.stdout, re.MULTILINE)
    accuracy = re.search(r"^Test accuracy: ([\d.]+)$", proc.stdout, re.MULTILINE)
    if kept is None or accuracy is None:
        raise SystemExit(f"imgpipe run {' '.join(args)} printed no training or accuracy line "
                         f"(exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    test = re.search(r"^Splits: .*test (\d+) images", proc.stdout, re.MULTILINE)
    return {"kept": int(kept.group(1)), "epochs_run": int(kept.group(2)), "why": kept.group(3)[:90],
            "accuracy": float(accuracy.group(1)), "test_images": int(test.group(1)) if test else None,
            "blessed": "Blessed: yes" in proc.stdout, "seconds": seconds,
            "small_data": next((l for l in proc.stdout.splitlines() if l.startswith("Small data")), "")}


def report(label: str, seed: int, facts: dict, floor: float, first_third: int) -> Optional[str]:
    """Prints the table row; returns what failed, if anything."""
    print(f"| {label} | {seed} | kept {facts['kept']} of {facts['epochs_run']} | {facts['accuracy']:.4f} "
          f"({facts['test_images']} test images) | {'yes' if facts['blessed'] else 'no'} | {facts['seconds']:.0f} s |",
          flush=True)
    problems = []
    if facts["kept"] <= first_third:
        problems.append(f"kept epoch {facts['kept']} is in the first third (epochs 1-{first_third})")
    if facts["accuracy"] < floor:
        problems.append(f"test accuracy {facts['accuracy']:.4f} < {floor}")
    return f"{label} seed {seed}: " + "; ".join(problems) if problems else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1,2,3,4,5", help="train.seed of the batch runs")
    parser.add_argument("--full-demo-seeds", default="42", help="train.seed of the full-demo runs ('' for none)")
    parser.add_argument("--work", default="/tmp/bench-batches", help="scratch folder (emptied first)")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    root = split_demo(args.work)
    first_third = TrainConfig().epochs // 3
    print(f"load {os.getloadavg()[0]:.2f}\n| data | train.seed | epoch kept | test accuracy | blessed | wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    failures, small_data = [], set()
    for span, batch in enumerate(BATCHES, start=1):
        for seed in (int(s) for s in args.seeds.split(",") if s):
            facts = run(os.path.join(args.work, f"out-{batch}-{seed}"),
                        ["--data", root, "--span", str(span), "--set", f"data.span_pattern={SPAN_PATTERN}",
                         "--set", f"train.seed={seed}"])
            failures.append(report(f"{batch} (300 images)", seed, facts, BATCH_FLOOR, first_third))
            small_data.add(facts["small_data"])
    for seed in (int(s) for s in args.full_demo_seeds.split(",") if s):
        facts = run(os.path.join(args.work, f"out-demo-{seed}"), ["--set", f"train.seed={seed}"])
        failures.append(report("full demo (600 images)", seed, facts, FULL_DEMO_FLOOR, first_third))
    failures = [f for f in failures if f]
    print("\n".join(sorted(f"batch runs printed: {line}" for line in small_data if line)))
    print("all runs meet the bar" if not failures else "NOT MET:\n  " + "\n  ".join(failures))
    print(f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
