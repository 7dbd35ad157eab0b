"""Benchmark: what `train.deterministic=true` costs, and whether it gives bit-identical weights.

Op determinism is process-wide and cannot be switched off again, so every round trains in a fresh
process (bench/determinism_probe.py, shared with the unit test): the default model at 32 px on random
images through the Trainer's own shuffle + augment stage (`components.trainer.train.batches`), one
warm-up epoch, then EPOCHS timed. Rounds alternate false / true so both see the same machine load;
the ratio is the median of the per-round ratios.

    .venv/bin/python -m bench.bench_determinism      # ~1-2 minutes on 2 cores, no pipeline
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES, SIZE, EPOCHS = 512, 32, 2


def one_round(deterministic: bool) -> Tuple[str, float]:
    """(weights' SHA-256, training images/s) of one fresh process (bench/determinism_probe.py)."""
    command = [sys.executable, "-m", "bench.determinism_probe", "true" if deterministic else "false",
               str(IMAGES), str(SIZE), str(EPOCHS)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"determinism probe failed:\n{done.stderr[-3000:]}")
    digest, rate = done.stdout.split()[-2:]
    return digest, float(rate)


def measure(rounds: int = 3) -> Dict[str, object]:
    """Images/s of both settings per round, the median paired ratio, and distinct weight digests of each."""
    runs: Dict[bool, List[Tuple[str, float]]] = {False: [], True: []}
    for _ in range(rounds):
        for deterministic in (False, True):
            runs[deterministic].append(one_round(deterministic))
    return {
        "rate_default": statistics.median(r for _, r in runs[False]),
        "rate_deterministic": statistics.median(r for _, r in runs[True]),
        "paired_ratio": statistics.median(t[1] / f[1] for f, t in zip(runs[False], runs[True])),
        "digests_default": len({d for d, _ in runs[False]}),
        "digests_deterministic": len({d for d, _ in runs[True]}),
        "rounds": rounds,
    }


def main() -> None:
    m = measure()
    print(f"training images/s at {SIZE} px (default model, {IMAGES} images, {EPOCHS} epochs, {m['rounds']} rounds each):"
          f" deterministic=false {m['rate_default']:.0f}, true {m['rate_deterministic']:.0f},"
          f" ratio {m['paired_ratio']:.2f}x (median of per-round ratios)")
    print(f"distinct weight digests over {m['rounds']} rounds: false {m['digests_default']}, "
          f"true {m['digests_deterministic']} (1 = bit-identical every time)")


if __name__ == "__main__":
    main()
