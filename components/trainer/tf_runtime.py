"""TensorFlow runtime settings every component that trains or serves shares."""
import tensorflow as tf
from tensorflow.python.autograph.core import config as autograph_config


def seed_and_determinism(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; with `deterministic`, also make TF's ops deterministic.

    Seeds alone leave run-to-run differences on a CPU: reductions whose summation
    order depends on threads, and parallel tf.data map calls that draw random
    numbers in whatever order the threads get to them. `enable_op_determinism` runs
    such maps serially and picks deterministic kernels; the price is measured in bench/bench_determinism.py.
    It is process-wide and cannot be turned off again, which is fine in the
    Trainer's own process (a Kubeflow pod, or a local run: see docs/model.md).
    """
    tf.keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def skip_autograph_for_tf_keras() -> None:
    """Treat tf_keras like TensorFlow's own `keras`: never AutoGraph-convert its internals.

    TensorFlow's AutoGraph rules exempt the `keras` package but not `tf_keras`,
    the Keras 2 that the TFX 1.16 stack runs on. Without this rule, tracing the
    first training step converts Keras' own source, layer by layer: measured
    here, 25-45 s for the first epoch of a small CNN instead of about 2 s.
    Keras' code is written for graph mode already, so nothing changes but time.
    """
    rules = tuple(autograph_config.CONVERSION_RULES)
    if not any(isinstance(r, autograph_config.DoNotConvert) and r.matches("tf_keras.x") for r in rules):
        autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert("tf_keras"),) + rules
