"""What rendering the report once saves a local run (issue 20): the two ways to end a run, side by side.

    python -m bench.bench_report_render --output output          # a finished local run's folder
    python -m bench.bench_report_render --output output --repeats 5

Before issue 20 a local run rendered its report twice: RunReport inside the DAG, then again from ML
Metadata after the run (`write_run_report`: collect every section, predict the judged splits, draw the
charts). Now the runner copies RunReport's page and fills in the run's id, start and times
(`publish_run_report`). This times both on the same finished run, alternating, in one process; the
difference is what each local run no longer spends. Both write the same report file (the last call wins).
"""
from __future__ import annotations

import argparse
import statistics
import time

import components  # noqa: F401  (Keras 2 before TensorFlow)

from pipeline.history.report import publish_run_report, write_run_report
from pipeline.layout import OutputLayout
from schemas.config import build_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="output", help="a finished local run's output folder")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each (after one warm-up each)")
    args = parser.parse_args()
    layout, name = OutputLayout(args.output), build_config().run.pipeline_name
    ways = {"render from ML Metadata (before: the second render)": write_run_report,
            "copy RunReport's page (now)": publish_run_report}
    times = {label: [] for label in ways}
    for repeat in range(args.repeats + 1):
        for label, write in ways.items():
            start = time.perf_counter()
            write(layout.metadata_path, layout.pipeline_root, name)
            if repeat:  # the first round warms imports and caches for both
                times[label].append(time.perf_counter() - start)
    print(f"| report of the newest run in {args.output} | median of {args.repeats} | min | max |")
    print("| --- | --- | --- | --- |")
    for label, values in times.items():
        print(f"| {label} | {statistics.median(values):.2f} s | {min(values):.2f} s | {max(values):.2f} s |")
    saved = statistics.median(times[next(iter(ways))]) - statistics.median(times[list(ways)[1]])
    print(f"saved per local run: {saved:.2f} s")


if __name__ == "__main__":
    main()
