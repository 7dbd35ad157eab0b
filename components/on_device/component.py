"""OnDeviceModel: the trained network as TFLite (float32, int8), judged like the SavedModel, pushed beside it.

After the Pusher, because it pushes beside the version the Pusher pushed, with the same number
(`<serving_dir>/<model_name>-tflite/<version>/`), and only when the Pusher pushed. Omitted from the
DAG with serving.tflite=off. An ordinary Python component, so it runs on every orchestrator.
"""

from absl import logging
from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.on_device.spec import NODE_ID, REASON_PROPERTY, OnDeviceSettings
from components.pusher.spec import ALREADY_SERVED_PROPERTY, PUSHED_PROPERTY, PUSHED_VERSION_PROPERTY
from schemas import carrier, features
from schemas.config import ServingConfig


class OnDeviceModels(tfx.dsl.Artifact):
    """model.tflite / model_int8.tflite, labels.txt, preprocessing.json (in `tflite/`) and on_device.json."""
    TYPE_NAME = "imgpipe.OnDeviceModels"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


@tfx.dsl.components.component
def OnDeviceModel(
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    transform_graph: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.TransformGraph],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    pushed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.PushedModel],
    on_device: tfx.dsl.components.OutputArtifact[OnDeviceModels],
    settings: tfx.dsl.components.Parameter[str],
    serving_model_dir: tfx.dsl.components.Parameter[str],
    golden: tfx.dsl.components.Parameter[int],
) -> None:
    """Converts the candidate, judges it on the Evaluator's images, pushes it if the Pusher pushed."""
    import tensorflow_transform as tft

    from components.on_device.executor import build_and_judge, failed_report, not_built_report, push_if_allowed

    chosen = carrier.from_json(OnDeviceSettings, settings)
    version = (pushed_model.get_string_custom_property(PUSHED_VERSION_PROPERTY)
               if pushed_model.get_int_custom_property(PUSHED_PROPERTY) else None)
    report = not_built_report(pushed_model.get_string_custom_property(ALREADY_SERVED_PROPERTY))
    if version:  # nothing is built for a model that is not served: a cached re-run or an unblessed one costs nothing
        splits = [features.TEST_SPLIT] + ([features.GOLDEN_SPLIT] if golden else [])
        pattern = lambda split: artifact_utils.get_split_uri([examples], split) + "/*"  # noqa: E731
        try:
            report = build_and_judge(path_utils.serving_model_path(model.uri),
                                     tft.TFTransformOutput(transform_graph.uri), pattern(features.TRAIN_SPLIT),
                                     [pattern(s) for s in splits], chosen.variants, on_device.uri)
        except Exception as e:  # noqa: BLE001 - the server model is pushed already: block the TFLite push, say why
            logging.exception("OnDeviceModel: conversion or judging failed")
            report = failed_report(e)
    report = push_if_allowed(report, on_device.uri, chosen, serving_model_dir, version)
    on_device.set_int_custom_property(PUSHED_PROPERTY, int(report["pushed"]))
    on_device.set_string_custom_property(REASON_PROPERTY, report["reason"])


def create_on_device_model(serving: ServingConfig, serving_model_dir: str, golden: bool, model, transform_graph,
                           examples, pushed_model) -> OnDeviceModel:
    """TFLite float32 and/or int8 (serving.tflite) of the trained network, pushed beside the pushed SavedModel."""
    return OnDeviceModel(model=model, transform_graph=transform_graph, examples=examples, pushed_model=pushed_model,
                         settings=carrier.to_json(OnDeviceSettings.from_serving_config(serving)),
                         serving_model_dir=serving_model_dir, golden=int(golden)).with_id(NODE_ID)
