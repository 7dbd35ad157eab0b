"""What does data.window_spans cost at ingestion? Prints figures; it is not a test. Run it under the lock:

    .venv/bin/python -m bench.bench_window
    .venv/bin/python -m bench.bench_window --per-class 100 --size 64

A data root of 7 span folders (round-1 .. round-7, generated noisy colour JPEGs, 3 classes) is ingested
by the image ExampleGen as a run does it (TFX's FileBasedDriver resolves the span, then our executor
on Beam's DirectRunner, in_memory), with a window of 1 span and of 7, alternating, --repeats times
each. The window is ingested in one ExampleGen run: every image of the window is read and decoded
again on every run, so the cost grows with the window; the figure says by how much.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import os
import shutil

from bench.bench_scale import image_folder
from components.image_example_gen.standalone import ingest
from schemas.config import DataConfig

PATTERN = "round-{SPAN}"


def span_root(work: str, spans: int, per_class: int, size: int) -> str:
    """<work>/data/round-1 .. round-N, each a folder of 3 classes x `per_class` images (its own draw)."""
    root = os.path.join(work, "data")
    for i in range(1, spans + 1):
        drawn = image_folder(os.path.join(work, f"draw-{i}"), 3 * per_class + i, size)  # + i: a draw per span
        shutil.copytree(drawn, os.path.join(root, PATTERN.format(SPAN=i)), ignore=shutil.ignore_patterns(".*"))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=7)
    parser.add_argument("--per-class", type=int, default=50, help="images per class and span")
    parser.add_argument("--size", type=int, default=32, help="image side in px")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = span_root(tmp, args.spans, args.per_class, args.size)
        ingest(DataConfig(span_pattern=PATTERN), data, f"{tmp}/warm", driver=True)  # imports, caches
        times = {1: [], args.spans: []}
        for repeat in range(args.repeats):
            for window in times:
                started = time.monotonic()
                ingest(DataConfig(span_pattern=PATTERN, window_spans=window), data, f"{tmp}/out-{window}-{repeat}",
                       driver=True)
                times[window].append(time.monotonic() - started)
    images = 3 * args.per_class
    for window, seconds in times.items():
        print(f"window {window} span(s), {window * images} images of {args.size} px: ExampleGen median "
              f"{statistics.median(seconds):.2f} s (runs: {', '.join(f'{s:.2f}' for s in seconds)})")
    ratio = statistics.median(times[args.spans]) / statistics.median(times[1])
    print(f"window {args.spans} / window 1: {ratio:.2f}x the ingestion time for {args.spans}x the images")


if __name__ == "__main__":
    main()
