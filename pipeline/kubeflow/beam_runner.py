"""Where a compiled pipeline's Beam components run: the runner arguments `kubeflow.beam_runner` stands for,
given to each Beam component (ImageExampleGen, StatisticsGen, ImageDataValidator, Transform, Evaluator)
and to no other step, and read back from a compiled spec by `validate-spec`.

- direct: Beam's DirectRunner in the component's own pod, with `run.beam_args` (today's default);
- dataflow: Dataflow Runner v2, the pipeline image as the SDK container (our package is in it);
- flink / spark: a Beam job server (`kubeflow.beam_job_endpoint`) through the portable Runner API, the work
  in an EXTERNAL worker pool (`kubeflow.beam_worker_pool`) or in DOCKER containers of the pipeline image.
Plain Python: no TFX import until a pipeline object is handed in.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

from schemas.config import Config
from schemas.config.running import KubeflowConfig

RUNNER_FLAG = "--runner="
DATAFLOW_REQUIRED = {"--project": "kubeflow.dataflow_project", "--region": "kubeflow.dataflow_region",
                     "--temp_location": "kubeflow.dataflow_temp_location"}


class BeamRunnerError(ValueError):
    """A `kubeflow.beam_runner` setting that cannot compile into a runnable spec."""


def beam_runner_args(cfg: Config, image: str) -> List[str]:
    """The Beam args every Beam component of the compiled spec gets (before the dependency flag).

    `direct` keeps `run.beam_args` as they are; another runner replaces their DirectRunner options and
    refuses a `--runner` of their own (two runners named is a mistake, not a preference)."""
    k = cfg.kubeflow
    if k.beam_runner == "direct":
        return list(cfg.run.beam_args)
    problem = k.beam_problem()
    if problem:
        raise BeamRunnerError(problem)
    named = [a for a in cfg.run.beam_args if a.startswith(RUNNER_FLAG)]
    if named:
        raise BeamRunnerError(f"kubeflow.beam_runner={k.beam_runner} and run.beam_args/--beam-arg {named[0]} "
                              "both name a runner: keep one")
    others = [a for a in cfg.run.beam_args if not a.startswith("--direct_")]
    return (_dataflow_args(k, image) if k.beam_runner == "dataflow" else _portable_args(k, image)) + others


def _dataflow_args(k: KubeflowConfig, image: str) -> List[str]:
    args = ["--runner=DataflowRunner", f"--project={k.dataflow_project}", f"--region={k.dataflow_region}",
            f"--temp_location={k.dataflow_temp_location}", f"--sdk_container_image={image}",
            "--experiments=use_runner_v2"]
    return args + ([f"--max_num_workers={k.dataflow_max_workers}"] if k.dataflow_max_workers else [])


def _portable_args(k: KubeflowConfig, image: str) -> List[str]:
    """Flink and Spark alike: their Beam job servers speak the same Job API (the one tested locally)."""
    environment = (["--environment_type=EXTERNAL", f"--environment_config={k.beam_worker_pool}"]
                   if k.beam_worker_pool else
                   ["--environment_type=DOCKER", f"--environment_config={image}", f"--sdk_container_image={image}"])
    return ["--runner=PortableRunner", f"--job_endpoint={k.beam_job_endpoint}"] + environment


def give_to_beam_components(pipeline, beam_args: Sequence[str]) -> List[str]:
    """Add `beam_args` to each Beam component of `pipeline` (built with none); their ids, in order.

    TFX would copy pipeline-level Beam args into every container, the Trainer's and the Pusher's too."""
    from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

    ids = []
    for component in pipeline.components:
        if isinstance(component.executor_spec, BeamExecutorSpec):
            component.executor_spec.add_beam_pipeline_args(list(beam_args))
            ids.append(component.id)
    return ids


def flag_values(args: Sequence[str]) -> Dict[str, str]:
    """{'--flag': value} of `--flag=value` args (the last wins, as in Beam's parsing)."""
    return dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)


def runner_arg_problems(label: str, args: Sequence[str]) -> List[str]:
    """What stops the Beam runner these container args name, one line each naming the config key."""
    flags = flag_values(args)
    runner = flags.get("--runner", "")
    problems = []
    if runner == "DataflowRunner":
        for flag, key in DATAFLOW_REQUIRED.items():
            if not flags.get(flag):
                problems.append(f"executor {label}: DataflowRunner without {flag}: set {key}")
        if not any(flags.get(f) for f in ("--sdk_container_image", "--setup_file", "--extra_package")):
            problems.append(f"executor {label}: DataflowRunner without our package (--sdk_container_image): "
                            "compile with kubeflow.beam_runner=dataflow")
    elif runner == "PortableRunner":
        if not flags.get("--job_endpoint"):
            problems.append(f"executor {label}: PortableRunner without --job_endpoint: set kubeflow.beam_job_endpoint")
        if flags.get("--environment_type", "DOCKER").upper() in ("EXTERNAL", "DOCKER") \
                and not flags.get("--environment_config"):
            problems.append(f"executor {label}: PortableRunner without --environment_config: set "
                            "kubeflow.beam_worker_pool, or leave it empty for DOCKER with the pipeline image")
    return problems

