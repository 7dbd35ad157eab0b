"""TFX's Evaluator executor, told when the baseline artifact holds no model.

ServedModelBaseline always emits an artifact (components cannot emit none);
on a first run it is empty. The stock executor would try to load it, so this
executor drops an empty baseline, and TFX then ignores change thresholds
(its `rubber_stamp` rule): the candidate is judged by the absolute bar alone.
"""
import tensorflow as tf
from absl import logging
from tfx.components.evaluator import executor as tfx_evaluator_executor
from tfx.types import standard_component_specs
from tfx.utils import path_utils

_BASELINE = standard_component_specs.BASELINE_MODEL_KEY


def has_saved_model(model_artifact) -> bool:
    return tf.io.gfile.exists(
        f"{path_utils.serving_model_path(model_artifact.uri)}/saved_model.pb")


class Executor(tfx_evaluator_executor.Executor):

    def Do(self, input_dict, output_dict, exec_properties):
        baselines = input_dict.get(_BASELINE) or []
        if baselines and not has_saved_model(baselines[0]):
            logging.info("Baseline artifact %s is empty: no served model to compare with.",
                         baselines[0].uri)
            input_dict = {k: v for k, v in input_dict.items() if k != _BASELINE}
        return super().Do(input_dict, output_dict, exec_properties)
