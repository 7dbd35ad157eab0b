"""Compile the pipeline for Kubeflow Pipelines v2 (open source) or Vertex AI Pipelines.

The same `create_pipeline()` as the local runner, compiled by TFX's
KubeflowV2DagRunner. What this module adds is only what a run on a cluster needs:

- every container runs our entrypoint (`python -m pipeline.kubeflow.entrypoint`),
  which fixes what the stock TFX entrypoint gets wrong on the open-source backend;
- runtime parameters a scheduled run sets per run: `data_root` (e.g. a dated
  bucket prefix) and `train_args` (the Trainer's TrainArgs as JSON; its
  `num_steps` caps the training steps, 0 = the configured epochs);
- the Trainer's CPU/memory/GPU requests from `kubeflow.*` in the config;
- the Beam runner of `kubeflow.beam_runner`, given to the Beam components only (beam_runner.py);
- with `kubeflow.trainer=vertex`, the Trainer as a Vertex AI training job (vertex_trainer.py);
- repository paths (the curated schema, setup.py for Beam workers) rewritten to
  where the Dockerfile puts the repository inside the image.

`kfp` writes a PipelineSpec (schema 2.1.0) as YAML, what `kfp.Client` uploads;
`vertex` writes a PipelineJob JSON, what `aiplatform.PipelineJob` reads.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List

from components.trainer import spec as trainer_spec
from components.tuner import spec as tuner_spec
from pipeline.beam_args import with_pickle_library, with_setup_file
from pipeline.kubeflow.beam_runner import BeamRunnerError, beam_runner_args, give_to_beam_components
from pipeline.kubeflow.mirrors import UNREADABLE_SCHEMES
from pipeline.kubeflow.vertex_trainer import use_vertex_trainer
from pipeline.kubeflow.spec import (
    DATA_ROOT_PARAM,
    ENTRYPOINT_COMMAND,
    TRAIN_ARGS_PARAM,
    package_format_problem,
    train_args_json,
)
from schemas.config import Config, from_dict
from schemas.runtime import ONEDNN_ISA, ONEDNN_SAFE_ISA, onednn_isa

IMAGE_SOURCE_DIR = "/opt/imgpipe"  # the Dockerfile's WORKDIR: this repository inside the image
REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CompileError(ValueError):
    """A compile option the user must fix."""


def compile_pipeline(cfg: Config, target: str, image: str, pipeline_root: str, output_path: str,
                     data_root: str = "", serving_dir: str = "",
                     image_source_dir: str = IMAGE_SOURCE_DIR) -> str:
    """Compile `create_pipeline()` to `output_path`; return the path written.

    `data_root` is the default of the `data_root` runtime parameter (empty: no
    default, every run must set it). `serving_dir` defaults to
    `<pipeline_root>/serving`; models are pushed to `<serving_dir>/<model_name>`.
    `image_source_dir` is where this repository lives in the image; pass the local
    repository path to execute the compiled spec outside a container.
    """
    serving_dir = check_compile_options(target, image, pipeline_root, output_path, data_root, serving_dir)
    _check_readable_in_container(("model.backbone_weights", cfg.model.backbone_weights))
    cfg = _config_for_image(cfg, image_source_dir)
    try:
        beam_args = image_beam_args(beam_runner_args(cfg, image), image_source_dir)
    except BeamRunnerError as e:
        raise CompileError(str(e)) from None
    if cfg.kubeflow.trainer_problem(target):
        raise CompileError(cfg.kubeflow.trainer_problem(target))
    from tfx import v1 as tfx  # ~10 s: only once every option is known to be usable

    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        cfg,
        data_root=tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT_PARAM, ptype=str, default=data_root or None),
        pipeline_root=pipeline_root,
        serving_model_dir=serving_dir.rstrip("/") + "/" + cfg.serving.model_name,
        beam_pipeline_args=[],  # not pipeline-wide: TFX would give them to every container
        train_args=tfx.dsl.experimental.RuntimeParameter(
            name=TRAIN_ARGS_PARAM, ptype=str, default=train_args_json(0)))
    give_to_beam_components(pipeline, beam_args)
    if cfg.kubeflow.trainer == "vertex":
        use_vertex_trainer(the_trainer(pipeline), cfg.kubeflow, image)
    else:
        apply_trainer_resources(pipeline, cfg)
    defaults = {TRAIN_ARGS_PARAM: train_args_json(0)}
    if data_root:
        defaults[DATA_ROOT_PARAM] = data_root
    job = _run_compiler(pipeline, image, defaults)
    _set_parameter_defaults(job["pipelineSpec"], defaults)
    apply_onednn_isa(job["pipelineSpec"], cfg)
    _write(job, target, output_path, pipeline_root)
    return output_path


def check_compile_options(target: str, image: str, pipeline_root: str, output_path: str,
                          data_root: str = "", serving_dir: str = "") -> str:
    """Refuse unusable options before TFX is imported (seconds before a compile would fail).

    Returns the serving dir: the one given, else `<pipeline_root>/serving`."""
    problem = package_format_problem(target, output_path)  # KFP takes YAML, Vertex a PipelineJob JSON
    if problem:
        raise CompileError(f"output file {problem}")
    if not image:
        raise CompileError("--image is required: the container image every step runs in "
                           "(build it from the Dockerfile, see docs/kubeflow.md, 'Build and push the image')")
    if not pipeline_root:
        raise CompileError("--pipeline-root is required, e.g. gs://bucket/imgpipe, or "
                           "minio://mlpipeline/imgpipe with --serving-dir gs://bucket/serving")
    if not serving_dir and pipeline_root.startswith(UNREADABLE_SCHEMES):
        raise CompileError(
            f"--pipeline-root {pipeline_root}: models are pushed to <pipeline-root>/serving by default, "
            f"which the containers cannot open (tf.io.gfile has no {pipeline_root.split('://')[0]}:// and "
            "the KFP launcher mirrors artifacts only); pass --serving-dir gs://bucket/serving or a path on "
            "a volume mounted into the pods")
    _check_readable_in_container(("--serving-dir", serving_dir), ("--data", data_root))
    return serving_dir or pipeline_root.rstrip("/") + "/serving"


def image_beam_args(beam_args: List[str], image_source_dir: str) -> List[str]:
    """Beam args for the containers: the image's setup.py unless a dependency flag is given, and the pickle
    library (beam_args.with_pickle_library)."""
    return with_pickle_library(with_setup_file(beam_args, f"{image_source_dir.rstrip('/')}/setup.py"))


def apply_trainer_resources(pipeline, cfg: Config) -> None:
    """Give the Trainer the CPU/memory/GPU limits of `kubeflow.*` (its platform config)."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    k = cfg.kubeflow
    if not (k.trainer_cpu or k.trainer_memory_gb or k.trainer_gpus):
        return
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=k.trainer_cpu, memory_limit=k.trainer_memory_gb)
    if k.trainer_gpus:
        spec.accelerator.type = k.trainer_gpu_type
        spec.accelerator.count = k.trainer_gpus
    the_trainer(pipeline).with_platform_config(spec)


def apply_onednn_isa(spec: dict, cfg: Config) -> None:
    """Lift oneDNN's instruction-set cap in the containers that train (Trainer, Tuner) as `imgpipe run` does.

    The image starts every container at AVX2 (Dockerfile), and a pod cannot decide later: TensorFlow
    loads before the executor reads the config. So the decision is made here, where the config is known,
    and written into those containers' environment, which overrides the image's (schemas/runtime.py,
    onednn_isa). A Vertex AI training job (kubeflow.trainer=vertex) runs in a container of its own and keeps AVX2.
    """
    isa, _ = onednn_isa(cfg.model)
    if isa == ONEDNN_SAFE_ISA:
        return
    executors = spec["deploymentSpec"]["executors"]
    for node_id in (trainer_spec.NODE_ID, tuner_spec.NODE_ID):
        container = executors.get(f"{node_id}_executor", {}).get("container")
        if container is not None:
            container["env"] = [e for e in container.get("env", []) if e.get("name") != ONEDNN_ISA] + [
                {"name": ONEDNN_ISA, "value": isa}]


def the_trainer(pipeline):
    trainers = [c for c in pipeline.components if c.id == trainer_spec.NODE_ID]
    if len(trainers) != 1:
        raise RuntimeError(f"expected one component with id {trainer_spec.NODE_ID!r}, found {len(trainers)}")
    return trainers[0]


def _check_readable_in_container(*options) -> None:
    """The serving dir and data root are plain paths, read and written with tf.io.gfile in the
    containers: the KFP launcher mirrors artifacts only, and TensorFlow 2.16 without
    tensorflow-io opens no minio:// or s3:// path."""
    for option, value in options:
        if value.startswith(UNREADABLE_SCHEMES):
            raise CompileError(
                f"{option} {value}: tf.io.gfile in the containers cannot open {value.split('://')[0]}:// "
                "(only pipeline artifacts are mirrored by the KFP launcher); use gs://... or a path on "
                "a volume mounted into the pods")


def _config_for_image(cfg: Config, image_source_dir: str) -> Config:
    """A copy of `cfg` whose schema path, if inside this repository, points into the image."""
    cfg = from_dict(cfg.to_dict())
    path = cfg.data.schema_path
    if path and "://" not in path:
        rel = os.path.relpath(os.path.abspath(path), REPO_DIR)
        if rel.startswith(".."):
            raise CompileError(
                f"data.schema_path {path} is a local file outside this repository, so the "
                "containers cannot read it: check it in under schemas/ or use a bucket URI")
        cfg.data.schema_path = image_source_dir.rstrip("/") + "/" + rel.replace(os.sep, "/")
    return cfg


def _run_compiler(pipeline, image: str, defaults: Dict[str, str]) -> dict:
    """The PipelineJob dict from TFX's compiler (schema 2.1.0, our entrypoint as command)."""
    from tfx import v1 as tfx

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image,
            default_commands=list(ENTRYPOINT_COMMAND),
            use_pipeline_spec_2_1=True))
    return runner.run(pipeline, parameter_values=defaults, write_out=False)


def _set_parameter_defaults(spec: dict, defaults: Dict[str, str]) -> None:
    """Write the defaults into the spec's root inputs, where KFP and Vertex read them.

    TFX 1.16 drops RuntimeParameter defaults from the PipelineSpec (it only puts
    run-time values in the PipelineJob's runtimeConfig, which a KFP .yaml lacks).
    """
    params = spec["root"]["inputDefinitions"]["parameters"]
    for name, value in defaults.items():
        params[name]["defaultValue"] = value
        params[name]["isOptional"] = True


def _write(job: dict, target: str, output_path: str, pipeline_root: str) -> None:
    """KFP: the PipelineSpec as YAML, with the pipeline root as the KFP SDK records it.
    Vertex: the whole PipelineJob as JSON (its runtimeConfig carries the pipeline root)."""
    import yaml

    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, "w", encoding="utf-8") as f:
        if target == "kfp":
            spec = dict(job["pipelineSpec"], defaultPipelineRoot=pipeline_root)
            f.write(f"# PIPELINE DEFINITION\n# Name: {spec['pipelineInfo']['name']}\n"
                    "# Compiled by imgpipe compile (TFX KubeflowV2DagRunner, schema 2.1.0)\n")
            yaml.safe_dump(spec, f, sort_keys=True)
        else:
            json.dump(job, f, sort_keys=True, indent=1)
