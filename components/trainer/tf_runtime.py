"""TensorFlow runtime settings every component that trains or serves shares."""
from tensorflow.python.autograph.core import config as autograph_config


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
