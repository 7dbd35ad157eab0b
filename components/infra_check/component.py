"""InfraCheck: TFX's InfraValidator's job without Docker or Kubernetes, on every orchestrator.

TFX's InfraValidator starts TF Serving in Docker or Kubernetes and is not
supported by the Kubeflow v2 runner (tensorflow/tfx#5512). This component runs
between the Evaluator and the Pusher as an ordinary Python component, so it
runs wherever the pipeline does: it loads the candidate in a fresh process and
holds its answers to the serving contract (check.py). Its output is a standard
InfraBlessing, which the Pusher takes as `infra_blessing`: a failed check means
no push, with the reason in the `reason` property and `infra_check.json`.
"""
import json
from typing import Optional

from absl import logging
from tfx import v1 as tfx
from tfx.utils import path_utils

from components.image_example_gen.manifest import labels_path, read_class_list
from components.infra_check.check import check_candidate
from components.infra_check.spec import NODE_ID, REASON_PROPERTY, REPORT_FILE
from schemas.config import ServingConfig
from schemas.features import BLESSED_PROPERTY  # what the Pusher reads (tfx model_utils.is_infra_validated)


@tfx.dsl.components.component
def InfraCheck(
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.InfraBlessing],
    atol: tfx.dsl.components.Parameter[float],
) -> None:
    """Checks the candidate against the class list the image ExampleGen recorded in `examples`."""
    class_names = read_class_list(labels_path(examples.uri))
    report = check_candidate(path_utils.serving_model_path(model.uri), class_names, atol)
    with open_report(blessing.uri) as f:
        json.dump(report, f, indent=2)
    reason = "" if report["blessed"] else "; ".join(report["problems"][:3]) + (
        f" (and {len(report['problems']) - 3} more)" if len(report["problems"]) > 3 else "")
    blessing.set_int_custom_property(BLESSED_PROPERTY, int(report["blessed"]))
    blessing.set_string_custom_property(REASON_PROPERTY, reason)
    logging.info("Infra check %s: %s", "passed" if report["blessed"] else "FAILED", reason or report)


def create_infra_check(serving: ServingConfig, model, examples) -> InfraCheck:
    """Loads the candidate in a fresh process and replays its warmup requests through both signatures."""
    return InfraCheck(model=model, examples=examples, atol=serving.infra_check_atol).with_id(NODE_ID)


def open_report(uri: str):
    import tensorflow as tf
    tf.io.gfile.makedirs(uri)
    return tf.io.gfile.GFile(f"{uri.rstrip('/')}/{REPORT_FILE}", "w")


def read_report(uri: str) -> Optional[dict]:
    """The check's report in an InfraBlessing artifact, or None when there is none."""
    import tensorflow as tf
    path = f"{uri.rstrip('/')}/{REPORT_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
