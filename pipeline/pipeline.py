"""`create_pipeline()`: the one place where the components are wired together.

With batch folders (data.span_pattern), NewDataCheck comes first and the rest runs only when it
finds a span the served model has not been trained on. Data comes in (ImageExampleGen), is checked (StatisticsGen, schema,
ExampleValidator, DataGate, ImageDataValidator), transformed (Transform), trained on (Trainer),
judged against the bar and the served model (ServedModelBaseline, Evaluator),
checked for serving in a fresh process (InfraCheck), pushed atomically (Pusher) and reported on
(RunReport). Runners call this and add nothing but orchestration.
"""
from __future__ import annotations

import contextlib
import json
from typing import List, Optional, Union

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.baseline.component import ServedModelBaseline
from components.data_validation.gate import DataGate
from components.evaluator import GatedEvaluator, judged_splits, make_eval_config
from components.image_example_gen import IngestLimits, create_image_example_gen
from components.image_validation.component import create_image_data_validator
from components.infra_check.component import InfraCheck
from components.new_data.component import ANY_SPAN, NEW_DATA_PROPERTY, NewDataCheck
from components.pusher.component import create_pusher
from components.transform.component import ImageTransform
from components.transform.executor import AUTO_MAX_KEY, AUTO_MIN_KEY
from components.trainer.train import trainer_config
from components.transform.preprocessing import IMAGE_SIZE_KEY
from pipeline.local.caching import RunCache
from pipeline.history.report.component import RunReport
from schemas import features
from schemas.config import Config

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.train.run_fn"


def create_pipeline(
    cfg: Config,
    data_root: Union[str, tfx.dsl.experimental.RuntimeParameter],
    pipeline_root: str,
    serving_model_dir: str,
    metadata_connection_config: Optional[object] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    train_args: Union[tfx.proto.TrainArgs, tfx.dsl.experimental.RuntimeParameter, None] = None,
    span: Optional[int] = None,
    cache: Optional[RunCache] = None,
) -> tfx.dsl.Pipeline:
    """The whole pipeline, as a TFX DSL object any orchestrator can run.

    `beam_pipeline_args` defaults to the config's `run.beam_args`; runners pass
    their own when the orchestrator needs more (e.g. a dependency flag).
    `train_args` defaults to the train split with no step cap; the Kubeflow runner
    passes a RuntimeParameter so a scheduled run can cap the training steps.
    `span` (with data.span_pattern) ingests that span instead of the newest (`imgpipe run --span N`).
    With `cache` (pipeline/local/caching.py) the run reuses unchanged components' outputs; without, it is uncached.
    """
    check = (NewDataCheck(data_root=data_root, span_pattern=cfg.data.span_pattern,
                          serving_model_dir=serving_model_dir, span=ANY_SPAN if span is None else span,
                          state_token=cache.new_data_token if cache else "")
             if cfg.data.span_pattern else None)
    with _only_with_new_data(check):
        components = _components(cfg, data_root, pipeline_root, serving_model_dir, train_args, span, cache)

    return tfx.dsl.Pipeline(
        pipeline_name=cfg.run.pipeline_name,
        pipeline_root=pipeline_root,
        components=([check] if check else []) + components,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(cfg.run.beam_args if beam_pipeline_args is None else beam_pipeline_args),
        enable_cache=cache is not None)


def _only_with_new_data(check):
    """With batch folders, every other component runs only when NewDataCheck found a span not yet trained on.

    TFX compiles the Cond into each KFP task's trigger condition; without a span pattern there is no check.
    """
    if check is None:
        return contextlib.nullcontext()
    return tfx.dsl.Cond(check.outputs["report"].future()[0].custom_property(NEW_DATA_PROPERTY) == 1)


def _components(cfg: Config, data_root, pipeline_root: str, serving_model_dir: str, train_args,
                span: Optional[int], cache: Optional[RunCache]) -> list:
    """Ingest, validate, transform, train, judge, check, push and report: the components, wired."""
    run_token = cache.run_token if cache else ""
    example_gen = create_image_example_gen(
        data_root, cfg.data.validation_percent, cfg.data.test_percent, IngestLimits.from_data_config(cfg.data),
        cfg.data.span_pattern, cfg.data.window_spans, span,
        content_fingerprint=cache.data_fingerprint if cache else "", golden_dir=cfg.data.golden_dir)
    golden = bool(cfg.data.golden_dir)
    # The golden images judge models only: the schema is inferred from, and checked against, the training data.
    not_golden = [features.GOLDEN_SPLIT] if golden else []
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"],
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True))
    if cfg.data.schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=cfg.data.schema_path)
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True, exclude_splits=not_golden)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        exclude_splits=not_golden)
    data_gate = DataGate(anomalies=example_validator.outputs["anomalies"])
    image_validator = create_image_data_validator(
        cfg, example_gen.outputs["examples"], statistics_gen.outputs["statistics"],
        schema_gen.outputs["schema"], pipeline_root, run_token)
    image_validator.add_upstream_node(data_gate)

    transform = ImageTransform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={IMAGE_SIZE_KEY: cfg.data.image_size, AUTO_MIN_KEY: cfg.data.image_size_auto_min,
                       AUTO_MAX_KEY: cfg.data.image_size_auto_max},
        materialize=False,
        disable_statistics=True).with_id("Transform")
    transform.add_upstream_node(image_validator)

    baseline = ServedModelBaseline(serving_model_dir=serving_model_dir, run_token=run_token)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=train_args if train_args is not None else tfx.proto.TrainArgs(splits=[features.TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[features.VALIDATION_SPLIT]),
        base_model=baseline.outputs["baseline"] if cfg.train.warm_start else None,
        custom_config={"config": trainer_config(cfg)})

    evaluator = GatedEvaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["baseline"],
        eval_config=make_eval_config(cfg.eval, golden),
        example_splits=judged_splits(golden)).with_id("Evaluator")
    infra_check = InfraCheck(
        model=trainer.outputs["model"], examples=example_gen.outputs["examples"],
        atol=cfg.serving.infra_check_atol)
    infra_check.add_upstream_node(evaluator)
    pusher = create_pusher(
        trainer.outputs["model"], evaluator.outputs["blessing"], infra_check.outputs["blessing"],
        serving_model_dir, cfg.serving.model_name, cfg.serving.keep_versions)

    report = RunReport(
        examples=example_gen.outputs["examples"], validation=image_validator.outputs["report"],
        model=trainer.outputs["model"], model_run=trainer.outputs["model_run"],
        baseline=baseline.outputs["baseline"], evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"], infra_blessing=infra_check.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        config=json.dumps(cfg.to_dict(), sort_keys=True), eval_split=features.TEST_SPLIT)
    return [example_gen, statistics_gen, schema_gen, example_validator, data_gate,
            image_validator, transform, trainer, baseline, evaluator, infra_check, pusher, report]
