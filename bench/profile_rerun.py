"""Where an unchanged, cached re-run spends its time (the `re-run` row of `make bench`).

    python -m bench.profile_rerun            # the suite's data: 600 shapes of 160 px, 64 px, 3 epochs

Runs the pipeline once (caching on), then again unchanged under cProfile, and prints the re-run's
components as ML Metadata timed them, the time between them (the orchestrator's own work: resolving
inputs, the cache lookup, publishing), and the heaviest calls by cumulative time.
Beam's in-memory runner works in this thread, so its stages show up in the profile too.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time

import components  # noqa: F401  (Keras 2 before TensorFlow)

from schemas.config import build_config
from bench.suite import write_jpeg_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="", help="scratch folder (default: a fresh temporary one)")
    parser.add_argument("--top", type=int, default=30, help="calls to list")
    args = parser.parse_args()
    from pipeline.local.runner import run_local
    from pipeline.history.run_record import list_run_ids, open_store, read_run_record

    work = tempfile.mkdtemp(prefix="imgpipe-rerun-", dir=args.work or None)
    data, output = write_jpeg_folder(os.path.join(work, "images"), 200), os.path.join(work, "output")
    cfg = build_config(overrides=["data.image_size=64", "train.epochs=3", "eval.min_accuracy=0"])
    first = time.perf_counter()
    if run_local(cfg, data, output).error:
        sys.exit("the first run failed")
    first = time.perf_counter() - first
    profile, start = cProfile.Profile(), time.perf_counter()
    summary = profile.runcall(run_local, cfg, data, output)
    wall = time.perf_counter() - start
    if summary.error:
        sys.exit(f"the re-run failed: {summary.error}")
    store = open_store(os.path.join(output, "metadata.sqlite"))
    record = read_run_record(store, cfg.run.pipeline_name, list_run_ids(store, cfg.run.pipeline_name)[-1])
    print(f"first run {first:.1f} s; unchanged re-run {wall:.1f} s (under cProfile)")
    end_ms = record.started_ms
    for node in record.nodes:
        gap = (node.started_ms - end_ms) / 1000
        print(f"  {node.node:<20} {node.state:<8} {node.seconds:6.1f} s   (+{gap:.1f} s before it)")
        end_ms = node.started_ms + node.seconds * 1000
    in_nodes = sum(n.seconds for n in record.nodes)
    print(f"  components {in_nodes:.1f} s, between them {(end_ms - record.started_ms) / 1000 - in_nodes:.1f} s, "
          f"before the first and after the last (building the pipeline; the summary and report) "
          f"{wall - (end_ms - record.started_ms) / 1000:.1f} s")
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.top)
    print(text.getvalue())


if __name__ == "__main__":
    main()
