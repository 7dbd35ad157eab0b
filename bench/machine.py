"""Yardsticks of the machine itself, for bench/suite.py: what a large float32 matmul reaches (the practical
peak of this CPU for dense math), how many FLOPs a Keras model costs per image, and how long a bare
`import tfx.v1` takes in a fresh process (the floor of any run's fixed cost).

    python -m bench.machine        # prints the three for the default preset at 32, 64 and 128 px
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import List

import components  # noqa: F401  (sets Keras 2 before TensorFlow is imported)

import tensorflow as tf

MATMUL_SIDE = 2048


def matmul_flops_per_second(side: int = MATMUL_SIDE, repeats: int = 8) -> float:
    """The best FLOP/s of `repeats` `side` x `side` float32 matmuls (2 side^3 FLOPs each), after one warm-up:
    a peak, so the best; on a shared machine the median moved 2x between runs."""
    a = tf.random.normal([side, side], dtype=tf.float32)
    b = tf.random.normal([side, side], dtype=tf.float32)
    tf.linalg.matmul(a, b).numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the result
        rates.append(2 * side ** 3 / (time.perf_counter() - start))
    return max(rates)


def forward_flops_per_image(model, image_size: int) -> int:
    """FLOPs of one image through `model` (inference mode), counted by TF's profiler on the frozen graph:
    a multiply-add counts 2, as in the matmul's 2 side^3."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph
    spec = tf.TensorSpec([1, image_size, image_size, 3], tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen, _ = convert_variables_to_constants_v2_as_graph(concrete)
    options = (tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
               .with_empty_output().build())
    return int(tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                             options=options).total_float_ops)


def import_tfx_seconds(rounds: int = 3) -> List[float]:
    """Wall seconds of `python -c "import tfx.v1"` in a fresh process, this venv's Python, `rounds` times."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tfx.v1"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    from bench import bench_presets
    print(f"matmul {MATMUL_SIDE}x{MATMUL_SIDE} float32: {matmul_flops_per_second() / 1e9:.1f} GFLOP/s")
    for size in (32, 64, 128):
        model = bench_presets.compiled_model(bench_presets.model_config("default"), size, 10, 1e-3)
        print(f"default preset at {size} px: {forward_flops_per_image(model, size) / 1e6:.1f} MFLOPs per image forward")
    print("import tfx.v1: " + ", ".join(f"{s:.1f} s" for s in import_tfx_seconds()))


if __name__ == "__main__":
    main()
