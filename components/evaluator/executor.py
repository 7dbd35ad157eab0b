"""TFX's Evaluator executor, told when the baseline artifact holds no model, and when a push is forced.

ServedModelBaseline always emits an artifact (components cannot emit none);
on a first run it is empty. The stock executor would try to load it, so this
executor drops an empty baseline, and TFX then removes the baseline model spec:
the paired gate judges the candidate by its floors alone.

A forced push (`eval.force_bless` with `eval.force_reason`) is applied after
TFMA has judged: the blessing keeps the gate's own verdict (`gate_blessed`)
beside the override (`forced_bless`, `force_reason`), so ML Metadata records
both what the gate said and who overrode it and why.

A candidate byte-identical to the served model (or judged with nothing served), on the same examples
and settings as an earlier execution, takes that execution's TFMA outputs instead (reuse.py); the
evaluation then records the run it was judged in (`reused_from_run`).
"""
import tensorflow as tf
import tensorflow_model_analysis as tfma
from absl import logging
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as tfx_evaluator_executor
from tfx.types import standard_component_specs
from tfx.utils import io_utils, path_utils, proto_utils

from components.evaluator import reuse
from components.evaluator.gate_metric import PairedGate
from components.evaluator.spec import (
    FORCE_REASON_PROPERTY,
    FORCED_PROPERTY,
    GATE_BLESSED_PROPERTY,
    REUSED_FROM_PROPERTY,
    REUSED_FROM_RUN_PROPERTY,
    TEST_ACCURACY_PROPERTY,
    GateConfig,
)
from schemas import carrier
from schemas.features import BLESSED_PROPERTY

_BASELINE = standard_component_specs.BASELINE_MODEL_KEY


def has_saved_model(model_artifact) -> bool:
    return tf.io.gfile.exists(
        f"{path_utils.serving_model_path(model_artifact.uri)}/saved_model.pb")


def force_reason(eval_config_json: str) -> str:
    """The reason given with eval.force_bless, read from the gate's MetricConfig ("" when not forced)."""
    eval_config = tfma.EvalConfig()
    proto_utils.json_to_proto(eval_config_json or "{}", eval_config)  # either JSON field-name style
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == PairedGate.__name__:
                return carrier.from_json(GateConfig, metric.config).force_reason
    return ""


def record_override(blessing, reason: str) -> None:
    """Bless regardless, keeping the gate's verdict and the reason on the blessing artifact."""
    gate_blessed = blessing.get_int_custom_property(BLESSED_PROPERTY) == 1
    blessing.set_int_custom_property(GATE_BLESSED_PROPERTY, int(gate_blessed))
    blessing.set_int_custom_property(FORCED_PROPERTY, 1)
    blessing.set_string_custom_property(FORCE_REASON_PROPERTY, reason)
    if not gate_blessed:
        not_blessed = f"{blessing.uri}/{constants.NOT_BLESSED_FILE_NAME}"
        if tf.io.gfile.exists(not_blessed):
            tf.io.gfile.remove(not_blessed)
        io_utils.write_string_file(f"{blessing.uri}/{constants.BLESSED_FILE_NAME}", "")
        blessing.set_int_custom_property(BLESSED_PROPERTY, constants.BLESSED_VALUE)
    logging.warning("Blessing forced (the gate said %s): %s", "blessed" if gate_blessed else "NOT blessed", reason)


def record_test_accuracy(evaluation) -> None:
    """The candidate's test accuracy as a property of the evaluation, so `imgpipe runs` lists it
    from ML Metadata alone, without loading TFMA to read the metrics back."""
    from components.evaluator.metrics import read_gate
    gate = read_gate(evaluation.uri)
    if gate is not None and gate.accuracy is not None:
        evaluation.set_float_custom_property(TEST_ACCURACY_PROPERTY, gate.accuracy)


def record_models(blessing, input_dict) -> None:
    """Which models this blessing is about, as TFX's Evaluator records them (a reused verdict too)."""
    model = input_dict[standard_component_specs.MODEL_KEY][0]
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    for baseline in input_dict.get(_BASELINE) or []:
        blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri)
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id)


class Executor(tfx_evaluator_executor.Executor):

    def Do(self, input_dict, output_dict, exec_properties):
        baselines = input_dict.get(_BASELINE) or []
        if baselines and not has_saved_model(baselines[0]):
            logging.info("Baseline artifact %s is empty: no served model to compare with.",
                         baselines[0].uri)
            input_dict = {k: v for k, v in input_dict.items() if k != _BASELINE}
        evaluation = output_dict[standard_component_specs.EVALUATION_KEY][0]
        blessing = output_dict[standard_component_specs.BLESSING_KEY][0]
        key = self._reuse_key(input_dict, exec_properties)
        earlier = reuse.find_earlier(evaluation.uri, key) if key else None
        if earlier:
            reuse.copy_earlier(earlier, evaluation.uri, blessing)
            record_models(blessing, input_dict)
            evaluation.set_string_custom_property(REUSED_FROM_RUN_PROPERTY, earlier["judged_in_run"])
            evaluation.set_string_custom_property(REUSED_FROM_PROPERTY, earlier["judged_in"])
            logging.info("Evaluator: verdict reused from %s (same candidate bytes, examples and settings).",
                         earlier["judged_in"])
        else:
            super().Do(input_dict, output_dict, exec_properties)
            reason = force_reason(exec_properties.get(standard_component_specs.EVAL_CONFIG_KEY, ""))
            if reason:
                record_override(blessing, reason)
        record_test_accuracy(evaluation)
        if key:
            run_id = (self._context.pipeline_run_id if self._context else "") or ""
            reuse.record(evaluation.uri, key, run_id, blessing, earlier)

    @staticmethod
    def _reuse_key(input_dict, exec_properties):
        baselines = input_dict.get(_BASELINE) or []
        return reuse.reuse_key(
            path_utils.serving_model_path(input_dict[standard_component_specs.MODEL_KEY][0].uri),
            path_utils.serving_model_dir(baselines[0].uri) if baselines else None,
            input_dict[standard_component_specs.EXAMPLES_KEY][0], exec_properties)
