"""Evaluator gate: an absolute accuracy floor and no regression against the served model."""
from __future__ import annotations

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor
from schemas import features

ACCURACY_METRIC = "SparseCategoricalAccuracy"
ACCURACY_KEY = "sparse_categorical_accuracy"  # the name TFMA reports it under
CANDIDATE, BASELINE = "candidate", "baseline"


class GatedEvaluator(tfx.components.Evaluator):
    """TFX's Evaluator, with an executor that accepts an empty baseline (first run)."""
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)


def make_eval_config(min_accuracy: float, max_accuracy_drop: float) -> tfma.EvalConfig:
    """Accuracy overall and per class, a confusion matrix, and the blessing thresholds.

    The models are fed serialized tf.Examples through `serving_default`, the
    same signature batch clients use; `probabilities` is the prediction.
    """
    def spec(name: str, is_baseline: bool) -> tfma.ModelSpec:
        return tfma.ModelSpec(name=name, is_baseline=is_baseline,
                              signature_name=features.EXAMPLES_SIGNATURE,
                              label_key=features.LABEL_KEY,
                              prediction_key=features.PROBABILITIES_OUTPUT)

    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_accuracy_drop}))
    return tfma.EvalConfig(
        model_specs=[spec(CANDIDATE, False), spec(BASELINE, True)],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LABEL_NAME_KEY])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name=ACCURACY_METRIC, threshold=threshold),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])],
    )
