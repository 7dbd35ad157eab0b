"""The Evaluator: TFX's own, judging on the test split with the paired gate (docs/evaluation-gate.md)."""
from __future__ import annotations

import tensorflow_model_analysis as tfma
from google.protobuf.wrappers_pb2 import BoolValue
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor
from components.evaluator.gate_metric import PairedGate
from components.evaluator.paired import GateRules
from components.evaluator.spec import BASELINE, CANDIDATE, NODE_ID, GateConfig
from schemas import carrier, features
from schemas.config import EvalConfig

ACCURACY_METRIC = "SparseCategoricalAccuracy"


class GatedEvaluator(tfx.components.Evaluator):
    """TFX's Evaluator, with an executor that accepts an empty baseline (first run) and records a forced push."""
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)


def gate_rules(eval_cfg: EvalConfig) -> GateRules:
    return GateConfig.from_eval_config(eval_cfg).rules


def judged_splits(golden: bool) -> list:
    """The Examples splits the Evaluator pools: the test split, and the golden folder's when there is one."""
    return [features.TEST_SPLIT, features.GOLDEN_SPLIT] if golden else [features.TEST_SPLIT]


def make_eval_config(eval_cfg: EvalConfig, golden: bool = False) -> tfma.EvalConfig:
    """Accuracy, a confusion matrix, and the paired gate whose verdict is the blessing.

    The models are fed serialized tf.Examples through `serving_default`, the
    same signature batch clients use; `probabilities` is the prediction. The
    gate's only threshold is `paired_gate >= 1`: the rules live in `paired.judge`.
    A forced push (`eval.force_*`) travels in the gate's config and is applied
    by the executor after TFMA has judged, so the record keeps both.

    Cost (docs/performance.md#evaluator): TFMA loads each model once per Beam stage that uses it.
    `tf_generic` loads it as a plain SavedModel (not revived as a Keras model, ~3x faster here, and
    no Keras load just to detect the type), and without the default metrics TFMA does not load the
    model again per metrics stage to read the metrics it was compiled with: we name ours.

    With `golden`, the pooled test and golden images are also sliced by `split`, so the golden figure
    is reported apart. The gate's threshold is a per-slice one on the overall slice only: TFMA checks
    a plain `threshold` on every slice (metrics_validator.validate_metrics), and the verdict must rest
    on all the images judged, not on each part alone.
    """
    def spec(name: str, is_baseline: bool) -> tfma.ModelSpec:
        return tfma.ModelSpec(name=name, is_baseline=is_baseline, model_type=tfma.constants.TF_GENERIC,
                              signature_name=features.EXAMPLES_SIGNATURE,
                              label_key=features.LABEL_KEY,
                              prediction_key=features.PROBABILITIES_OUTPUT)

    gate = tfma.MetricConfig(
        class_name=PairedGate.__name__, module=PairedGate.__module__,
        config=carrier.to_json(GateConfig.from_eval_config(eval_cfg)),
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 1.0})))])
    return tfma.EvalConfig(
        model_specs=[spec(CANDIDATE, False), spec(BASELINE, True)],
        slicing_specs=[tfma.SlicingSpec()] + ([tfma.SlicingSpec(feature_keys=[features.SPLIT_KEY])] if golden else []),
        options=tfma.Options(include_default_metrics=BoolValue(value=False)),
        metrics_specs=[tfma.MetricsSpec(model_names=[CANDIDATE], metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name=ACCURACY_METRIC),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
            gate,
        ])],
    )


def create_evaluator(eval_cfg: EvalConfig, golden: bool, examples, model, baseline_model) -> GatedEvaluator:
    """TFMA on the test split (and the golden folder's, with `golden`), candidate against the served model."""
    return GatedEvaluator(examples=examples, model=model, baseline_model=baseline_model,
                          eval_config=make_eval_config(eval_cfg, golden),
                          example_splits=judged_splits(golden)).with_id(NODE_ID)
