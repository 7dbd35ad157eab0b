"""Distributed Beam on Kubeflow, chosen with `kubeflow.beam_runner` and compiled in
(docs/scaling.md#beam-on-kubeflow): every Beam component's container carries the runner's arguments, no
other container carries any Beam argument, `validate-spec` accepts each compiled spec and refuses one
whose Dataflow arguments lack a project, region or temp location, naming the key.

Dataflow, Flink and Spark themselves are not reachable here: what is checked is the compiled spec."""
import json

import pytest
import yaml

from pipeline.kubeflow.beam_runner import beam_runner_args, runner_arg_problems
from pipeline.kubeflow.compiler import CompileError, compile_pipeline
from pipeline.kubeflow.spec import load_pipeline_spec
from pipeline.kubeflow.spec_check import load_spec, validate_spec
from schemas.config import build_config
from tests.fixtures import KFP_DATA, KFP_IMAGE, KFP_ROOT, KFP_SERVING

BEAM_STEPS = {"ImageExampleGen", "StatisticsGen", "ImageDataValidator", "Transform", "Evaluator"}
DATAFLOW = ["kubeflow.beam_runner=dataflow", "kubeflow.dataflow_project=my-proj",
            "kubeflow.dataflow_region=europe-west4", "kubeflow.dataflow_temp_location=gs://bucket/tmp",
            "kubeflow.dataflow_max_workers=20"]
RUNNERS = {
    "direct": [],
    "dataflow": DATAFLOW,
    "flink": ["kubeflow.beam_runner=flink", "kubeflow.beam_job_endpoint=flink-beam-jobserver:8099",
              "kubeflow.beam_worker_pool=localhost:50000"],
    "spark": ["kubeflow.beam_runner=spark", "kubeflow.beam_job_endpoint=spark-beam-jobserver:8099"],
}
PICKLER = "--pickle_library=cloudpickle"  # pipeline/beam_args.py: with_pickle_library
EXPECTED = {
    "direct": ["--direct_running_mode=in_memory", "--direct_num_workers=1", "--setup_file=/opt/imgpipe/setup.py",
               PICKLER],
    "dataflow": ["--runner=DataflowRunner", "--project=my-proj", "--region=europe-west4",
                 "--temp_location=gs://bucket/tmp", f"--sdk_container_image={KFP_IMAGE}",
                 "--experiments=use_runner_v2", "--max_num_workers=20", PICKLER],
    "flink": ["--runner=PortableRunner", "--job_endpoint=flink-beam-jobserver:8099", "--environment_type=EXTERNAL",
              "--environment_config=localhost:50000", "--setup_file=/opt/imgpipe/setup.py", PICKLER],
    "spark": ["--runner=PortableRunner", "--job_endpoint=spark-beam-jobserver:8099", "--environment_type=DOCKER",
              f"--environment_config={KFP_IMAGE}", f"--sdk_container_image={KFP_IMAGE}", PICKLER],
}


def compile_with(overrides, path, target="kfp"):
    cfg = build_config("", overrides + ["data.schema_path=schemas/demo/schema.pbtxt"])
    return compile_pipeline(cfg, target, KFP_IMAGE, KFP_ROOT if target == "kfp" else "gs://bucket/root", str(path),
                            data_root=KFP_DATA, serving_dir=KFP_SERVING)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """{beam_runner: compiled .yaml}, one compile per value (one TFX import)."""
    root = tmp_path_factory.mktemp("beam")
    return {name: compile_with(overrides, root / f"{name}.yaml") for name, overrides in RUNNERS.items()}


def beam_args_by_step(path) -> dict:
    """{task: the args after our entrypoint's own (the Beam args TFX appends)} of a compiled spec."""
    spec = load_pipeline_spec(path)
    result = {}
    for task, body in spec["root"]["dag"]["tasks"].items():
        label = spec["components"][body["componentRef"]["name"]]["executorLabel"]
        args = spec["deploymentSpec"]["executors"][label]["container"]["args"]
        # --executor_class_path X --json_serialized_invocation_args {{$}} --json_serialized_inputs_spec_args Y
        result[task] = args[6:]
    return result


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_each_beam_runner_compiles_into_the_beam_steps_only_and_validate_spec_accepts_it(compiled, runner):
    steps = beam_args_by_step(compiled[runner])
    assert BEAM_STEPS <= set(steps)
    for step, args in steps.items():
        assert args == (EXPECTED[runner] if step in BEAM_STEPS else []), step
    assert validate_spec(load_spec(compiled[runner])) == []


def test_the_example_gen_driver_gets_the_same_runner(compiled):
    spec = load_pipeline_spec(compiled["dataflow"])
    driver = spec["deploymentSpec"]["executors"]["ImageExampleGen_executor"]["container"]["lifecycle"]
    assert driver["preCacheCheck"]["args"][-len(EXPECTED["dataflow"]):] == EXPECTED["dataflow"]


def test_validate_spec_refuses_dataflow_args_without_project_region_or_temp_location_naming_the_key(compiled,
                                                                                                   tmp_path):
    with open(compiled["dataflow"]) as f:
        spec = yaml.safe_load(f)
    container = spec["deploymentSpec"]["executors"]["StatisticsGen_executor"]["container"]
    container["args"] = [a for a in container["args"] if not a.startswith(("--project=", "--temp_location="))]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(spec))
    assert validate_spec(load_spec(str(broken))) == [
        "executor StatisticsGen_executor: DataflowRunner without --project: set kubeflow.dataflow_project",
        "executor StatisticsGen_executor: DataflowRunner without --temp_location: set kubeflow.dataflow_temp_location"]
    assert runner_arg_problems("x", ["--runner=PortableRunner", "--environment_type=EXTERNAL"]) == [
        "executor x: PortableRunner without --job_endpoint: set kubeflow.beam_job_endpoint",
        "executor x: PortableRunner without --environment_config: set kubeflow.beam_worker_pool, or leave it "
        "empty for DOCKER with the pipeline image"]


@pytest.mark.parametrize("overrides, message", [
    ([o for o in DATAFLOW if "project" not in o], "kubeflow.beam_runner=dataflow needs kubeflow.dataflow_project"),
    ([o for o in DATAFLOW if "region" not in o], "kubeflow.beam_runner=dataflow needs kubeflow.dataflow_region"),
    ([o for o in DATAFLOW if "temp_location" not in o],
     "kubeflow.beam_runner=dataflow needs kubeflow.dataflow_temp_location"),
    (DATAFLOW + ["kubeflow.dataflow_temp_location=/tmp/x"], "kubeflow.dataflow_temp_location '/tmp/x': Dataflow"),
    (["kubeflow.beam_runner=flink"], "kubeflow.beam_runner=flink needs kubeflow.beam_job_endpoint"),
    (RUNNERS["spark"] + ["kubeflow.beam_worker_pool=pool"], "kubeflow.beam_worker_pool 'pool': expected HOST:PORT"),
    (DATAFLOW + ['run.beam_args=["--runner=FlinkRunner"]'],
     "kubeflow.beam_runner=dataflow and run.beam_args/--beam-arg --runner=FlinkRunner both name a runner"),
])
def test_a_runner_that_cannot_work_is_refused_before_compiling_in_one_line_naming_the_key(overrides, message,
                                                                                         tmp_path):
    with pytest.raises(CompileError, match=message) as e:
        compile_with(overrides, tmp_path / "x.yaml")
    assert "\n" not in str(e.value)


def test_beam_runner_values_and_max_workers_are_checked_by_the_config():
    from schemas.config import ConfigError
    with pytest.raises(ConfigError, match="kubeflow.beam_runner"):
        build_config("", ["kubeflow.beam_runner=dask"])
    with pytest.raises(ConfigError, match="kubeflow.dataflow_max_workers"):
        build_config("", ["kubeflow.dataflow_max_workers=-1"])
    cfg = build_config("", DATAFLOW + ['run.beam_args=["--direct_num_workers=4", "--no_save_main_session"]'])
    assert beam_runner_args(cfg, "img")[-1] == "--no_save_main_session"  # DirectRunner options dropped
    assert json.dumps(beam_runner_args(cfg, "img")).count("direct_") == 0
