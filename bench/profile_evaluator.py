"""Where the Evaluator's time goes when TFMA runs (the `evaluator` rows of `make bench`, issue 22 part 2).

    python -m bench.profile_evaluator                      # the suite's data: 600 shapes of 160 px, 64 px
    python -m bench.profile_evaluator --images-per-class 1000 --epochs 1

Runs the pipeline once (bench.suite's run), then the Evaluator executor with a baseline (candidate and
baseline the same model, as in the suite's row) in process: once to warm up, then under cProfile. Beside it,
bench.suite's plain batched predict of both models, loads included. Prints the executor's time split
into what a plain predict also does (loading the SavedModels, running the serving signature) and what it
does not (building and translating the Beam pipeline, TFMA's extract/evaluate/write stages around the
model calls), with the call counts, then the heaviest calls by cumulative time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time

import components  # noqa: F401  (Keras 2 before TensorFlow)

# (label, path fragment, function name): cumulative time of these entries of the profile
PARTS = (
    ("SavedModel loads (tf.saved_model.load)", "saved_model/load.py", "load"),
    ("model calls (serving signature, all batches)", "eager/polymorphic_function/concrete_function.py", "__call__"),
    ("Beam: building the graph (Pipeline.apply)", "apache_beam/pipeline.py", "apply"),
    ("Beam: pipeline.run (translate + execute)", "apache_beam/pipeline.py", "run"),
    ("Beam: bundle processors' set-up (DoFn setup, incl. the loads)", "worker/bundle_processor.py", "__init__"),
    ("Beam: processing the bundles (incl. the model calls)", "worker/bundle_processor.py", "process_bundle"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="", help="scratch folder (default: a fresh temporary one)")
    parser.add_argument("--images-per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--top", type=int, default=40, help="calls to list")
    args = parser.parse_args()
    from bench.suite import evaluator_inputs, plain_predict_models, run_evaluator, run_pipeline, timed, write_jpeg_folder

    work = tempfile.mkdtemp(prefix="imgpipe-profile-eval-", dir=args.work or None)
    data = write_jpeg_folder(os.path.join(work, "images"), args.images_per_class)
    record, _, _, _ = run_pipeline(data, os.path.join(work, "output"), args.epochs)
    examples, model, properties, serialized, labels, model_dir = evaluator_inputs(record)

    run_evaluator(examples, model, model, properties, os.path.join(work, "eval_warm"))
    plain = [1 / timed(lambda: plain_predict_models([model_dir] * 2, serialized, labels)) for _ in range(3)]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    run_evaluator(examples, model, model, properties, os.path.join(work, "eval_profiled"))
    profiler.disable()
    total = time.perf_counter() - started
    unprofiled = 1 / timed(lambda: run_evaluator(examples, model, model, properties, os.path.join(work, "eval_plain")))

    stats = pstats.Stats(profiler)
    print(f"\n== Evaluator executor with a baseline, {len(serialized)} test images of 64 px")
    print(f"executor without the profiler {unprofiled:.2f} s; under it {total:.2f} s; plain batched predict of "
          f"both models (both loads incl.) median of 3: {sorted(plain)[1]:.2f} s -> ratio "
          f"{unprofiled / sorted(plain)[1]:.2f}x")
    for label, fragment, name in PARTS:
        found = [(key, value) for key, value in stats.stats.items() if fragment in key[0] and key[2] == name]
        calls = sum(value[1] for _, value in found)
        cumulative = max((value[3] for _, value in found), default=0.0)  # the outermost entry's cumulative time
        print(f"  {label:<58} {cumulative:7.2f} s  ({calls} calls)")
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
