"""`create_pipeline()`: the DAG, one step per folder under components/, wired in order.

Data comes in (ImageExampleGen), is checked (data validation, ImageDataValidator), transformed
(Transform), tuned (Tuner, only with tune.trials > 0), trained on (Trainer), judged against the bar and
the served model (ServedModelBaseline, Evaluator), checked for serving in a fresh process (InfraCheck),
described (ModelCard), pushed atomically with its card (Pusher), converted to TFLite and pushed beside it
when it answers alike (OnDeviceModel) and reported on (RunReport). With batch folders (data.span_pattern),
NewDataCheck comes first and the rest runs only when it finds a span the served model has not been trained
on. Each step's factory takes its config section; runners call this and add nothing but orchestration.
"""
from __future__ import annotations

from typing import List, Optional, Protocol, Union

from tfx import v1 as tfx

from components.baseline.component import create_baseline
from components.data_validation.component import create_data_validation
from components.evaluator.component import create_evaluator
from components.image_example_gen.component import create_image_example_gen
from components.image_validation.component import create_image_data_validator
from components.infra_check.component import create_infra_check
from components.new_data.component import create_new_data_check, only_with_new_data
from components.on_device.component import create_on_device_model
from components.pusher.component import create_pusher
from components.trainer.component import create_trainer
from components.transform.component import create_transform
from components.tuner.component import create_tuner
from pipeline.history.model_card.component import create_model_card
from pipeline.history.report.component import create_run_report
from schemas.config import Config
from schemas.config.serving import TFLITE_OFF


class RunState(Protocol):
    """What a cached local run tells the DAG (pipeline/local/caching.py's RunCache has these three);
    without one, the pipeline is uncached (the Kubeflow compile)."""
    run_token: str
    data_fingerprint: str
    new_data_token: str


def create_pipeline(
    cfg: Config,
    data_root: Union[str, tfx.dsl.experimental.RuntimeParameter],
    pipeline_root: str,
    serving_model_dir: str,
    metadata_connection_config: Optional[object] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    train_args: Union[tfx.proto.TrainArgs, tfx.dsl.experimental.RuntimeParameter, None] = None,
    span: Optional[int] = None,
    cache: Optional[RunState] = None,
) -> tfx.dsl.Pipeline:
    """The whole pipeline, as a TFX DSL object any orchestrator can run.

    `beam_pipeline_args` defaults to the config's `run.beam_args`; runners pass their own when the
    orchestrator needs more (e.g. a dependency flag). `train_args` caps training steps (a Kubeflow
    runtime parameter). `span` (with data.span_pattern) ingests that span instead of the newest
    (`imgpipe run --span N`). With `cache` the run reuses unchanged steps' outputs; without, it is uncached.
    """
    check = create_new_data_check(cfg, data_root, serving_model_dir, span, cache.new_data_token if cache else "")
    with only_with_new_data(check):
        steps = _steps(cfg, data_root, pipeline_root, serving_model_dir, train_args, span, cache)
    return tfx.dsl.Pipeline(
        pipeline_name=cfg.run.pipeline_name,
        pipeline_root=pipeline_root,
        components=([check] if check else []) + steps,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(cfg.run.beam_args if beam_pipeline_args is None else beam_pipeline_args),
        enable_cache=cache is not None)


def _steps(cfg: Config, data_root, pipeline_root: str, serving_model_dir: str, train_args,
           span: Optional[int], cache: Optional[RunState]) -> list:
    """Every step after NewDataCheck, in the order they run."""
    run_token = cache.run_token if cache else ""  # new each run: steps that read state outside the pipeline
    # 1. Ingest the image folder (or the window of batch folders): tf.Examples split by path hash.
    example_gen = create_image_example_gen(cfg.data, data_root, span, cache.data_fingerprint if cache else "")
    examples = example_gen.outputs["examples"]
    # 2. Check the data against its schema (TFDV); DataGate stops the run on any anomaly.
    data = create_data_validation(cfg.data, examples)
    schema = data.schema_gen.outputs["schema"]
    # 3. Image-aware checks: classes, counts, sizes, leakage, drift; a blocking finding stops the run.
    images = create_image_data_validator(cfg, examples, data.statistics_gen.outputs["statistics"], schema,
                                         pipeline_root, run_token)
    images.add_upstream_node(data.data_gate)
    # 4. Transform: decode, resize, scale; the same graph runs inside both serving signatures.
    transform = create_transform(cfg.data, cfg.model.backbone, examples, schema)
    transform.add_upstream_node(images)
    # 5. With tune.trials > 0: search hyperparameters, each trial judged on the validation split.
    tuner = create_tuner(cfg, examples, transform.outputs["transform_graph"], schema)
    # 6. The model served now: the Evaluator's baseline, and warm start's weights.
    baseline = create_baseline(serving_model_dir, run_token)
    # 7. Train on the train split (with the Tuner's best values), keep the epoch chosen on validation.
    trainer = create_trainer(cfg, examples, transform.outputs["transform_graph"], schema,
                             baseline.outputs["baseline"], train_args,
                             tuner.outputs["best_hyperparameters"] if tuner else None)
    # 8. Judge on test (+ golden) against the bar and, image by image, against the served model.
    evaluator = create_evaluator(cfg.eval, bool(cfg.data.golden_dir), examples, trainer.outputs["model"],
                                 baseline.outputs["baseline"])
    # 9. Load the candidate in a fresh process and replay requests through both signatures.
    infra_check = create_infra_check(cfg.serving, trainer.outputs["model"], examples)
    infra_check.add_upstream_node(evaluator)
    # 10. The candidate's model card: data, evaluation, training, limitations (pushed with it, shown in the report).
    card = create_model_card(cfg, example_gen, images, transform, trainer, baseline, evaluator)
    # 11. Push what both blessed, atomically, into TF Serving's layout, with its card.
    pusher = create_pusher(cfg.serving, serving_model_dir, trainer.outputs["model"], evaluator.outputs["blessing"],
                           infra_check.outputs["blessing"], card.outputs["card"])
    # 12. The on-device models (serving.tflite): TFLite float32/int8, judged against the SavedModel, pushed beside it.
    on_device = [] if cfg.serving.tflite == TFLITE_OFF else [create_on_device_model(
        cfg.serving, serving_model_dir, bool(cfg.data.golden_dir), trainer.outputs["model"],
        transform.outputs["transform_graph"], examples, pusher.outputs["pushed_model"])]
    # 13. Report the run, whatever the verdict.
    report = create_run_report(cfg, example_gen, images, transform, trainer, baseline, evaluator, card, infra_check,
                               pusher)
    report.add_upstream_nodes(on_device)  # its summary has the TFLite line
    return [example_gen, *data.nodes, images, transform, *([tuner] if tuner else []), trainer, baseline, evaluator,
            infra_check, card, pusher, *on_device, report]
