"""Baseline model: the model currently served, found by an ordinary component.

The Evaluator compares each candidate with the model being served. TFX's usual
way to find it is a Resolver node, which open-source Kubeflow Pipelines v2 cannot
run; this small component looks in the serving directory instead, so the same
pipeline works on every orchestrator. The served model is copied into the output
artifact, so the comparison stays reproducible even if the serving directory
changes later. A served version whose files no longer match its manifest
(components/pusher/integrity.py) is refused: the step fails, naming the files.
"""
from typing import Optional

from absl import logging
from tfx import v1 as tfx
from tfx.utils import path_utils

from components.baseline.spec import FOUND_PROPERTY, NODE_ID, SOURCE_PROPERTY
from components.fs import copy_tree
from components.pusher.integrity import require_intact
from components.pusher.publish import latest_served_version


def served_baseline(serving_model_dir: str) -> Optional[str]:
    """The newest served version, None when nothing is served; IntegrityError when it fails verification."""
    source = latest_served_version(serving_model_dir)
    if source is not None:
        require_intact(source, "the served model")
    return source


@tfx.dsl.components.component
def ServedModelBaseline(
    serving_model_dir: tfx.dsl.components.Parameter[str],
    baseline: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Model],
    run_token: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Copies the newest pushed model under `serving_model_dir` into `baseline`.

    `run_token` is unused here: it differs on every cached run (pipeline/local/caching.py), so the
    orchestrator never reuses an old baseline when the served model changed outside the pipeline.

    With nothing pushed yet the artifact stays empty and `baseline_found` is 0;
    the gated Evaluator then judges the candidate by the absolute bar alone.
    """
    source = served_baseline(serving_model_dir)
    baseline.set_int_custom_property(FOUND_PROPERTY, int(source is not None))
    baseline.set_string_custom_property(SOURCE_PROPERTY, source or "")
    if source is None:
        logging.info("No model served under %s yet: first run, no baseline.", serving_model_dir)
        return
    copy_tree(source, path_utils.serving_model_dir(baseline.uri))
    logging.info("Baseline: the served model %s", source)


def create_baseline(serving_model_dir: str, run_token: str = "") -> ServedModelBaseline:
    """The served model's copy: the Evaluator's baseline and, with train.warm_start, the Trainer's base model."""
    return ServedModelBaseline(serving_model_dir=serving_model_dir, run_token=run_token).with_id(NODE_ID)
