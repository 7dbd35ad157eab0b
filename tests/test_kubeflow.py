"""The Kubeflow path up to the cluster boundary: compile, submit, schedule.

The pipeline is compiled for real (TFX KubeflowV2DagRunner, conftest.py `kfp_yaml`)
and submitted with the real kfp 2.5.0 client to a fake KFP v2beta1 API on 127.0.0.1
(tests/fake_kfp.py) that records what it receives. Multi-user KFP (credentials,
namespaces, managing schedules): tests/test_kfp_multi_user.py.
"""
import json
import os
import socket

import pytest
import yaml

from pipeline.cli import main
from pipeline.kubeflow.compiler import compile_pipeline
from pipeline.kubeflow.spec import ENTRYPOINT_COMMAND, load_pipeline_spec, runtime_parameter_defaults
from schemas.config import build_config

from tests.fixtures import KFP_DATA as DATA, KFP_IMAGE as IMAGE, KFP_ROOT as ROOT, KFP_SERVING as SERVING

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEAM_STEPS = {"ImageExampleGen", "StatisticsGen", "ImageDataValidator", "Transform", "Evaluator"}


@pytest.fixture(scope="module")
def vertex_json(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("vertex") / "imgpipe.json")
    return compile_pipeline(build_config("", []), "vertex", IMAGE, "gs://bucket/root", path)


# --------------------------------------------------------------------------- compile

def test_kfp_spec_is_schema_2_1_yaml_with_runtime_parameters(kfp_yaml):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    with open(kfp_yaml) as f:
        spec = yaml.safe_load(f)
    proto = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # what kfp.Client does
    assert proto.schema_version == "2.1.0"
    assert proto.default_pipeline_root == ROOT
    assert runtime_parameter_defaults(kfp_yaml) == {
        "data_root": DATA, "train_args": '{"num_steps": 0, "splits": ["train"]}'}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["ImageExampleGen"]["inputs"]["parameters"]["input_base"] == {
        "componentInputParameter": "data_root"}
    assert tasks["Trainer"]["inputs"]["parameters"]["train_args"] == {
        "componentInputParameter": "train_args"}


def test_the_report_digest_compiles_to_the_type_the_kfp_ui_renders_inline(kfp_yaml):
    """TFX writes a custom type's TYPE_NAME as the schema title; KFP's launcher records that title as the
    artifact's ML Metadata type, which the UI's Visualization tab matches (docs/report.md)."""
    spec = load_pipeline_spec(kfp_yaml)
    task = spec["root"]["dag"]["tasks"]["RunReport"]
    outputs = spec["components"][task["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
    assert yaml.safe_load(outputs["digest"]["artifactType"]["instanceSchema"])["title"] == "system.Markdown"
    assert yaml.safe_load(outputs["report"]["artifactType"]["instanceSchema"])["title"] == "imgpipe.RunReport"
    card_task = spec["root"]["dag"]["tasks"]["Pusher"]["inputs"]["artifacts"]["model_card"]["taskOutputArtifact"]
    assert card_task == {"producerTask": "ModelCard", "outputArtifactKey": "card"}


def test_the_on_device_step_runs_after_the_pusher_and_pushes_beside_its_serving_dir(kfp_yaml):
    """OnDeviceModel reads the Pusher's PushedModel (the version to push beside), RunReport waits for it."""
    tasks = load_pipeline_spec(kfp_yaml)["root"]["dag"]["tasks"]
    task = tasks["OnDeviceModel"]
    assert task["inputs"]["artifacts"]["pushed_model"]["taskOutputArtifact"] == {
        "producerTask": "Pusher", "outputArtifactKey": "pushed_model"}
    assert task["inputs"]["parameters"]["serving_model_dir"]["runtimeValue"]["constant"] == f"{SERVING}/image_classifier"
    assert "OnDeviceModel" in tasks["RunReport"]["dependentTasks"]


def test_every_step_runs_our_entrypoint_in_our_image_and_no_resolver_remains(kfp_yaml):
    spec = load_pipeline_spec(kfp_yaml)
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == len(spec["root"]["dag"]["tasks"]) >= 10
    for label, executor in executors.items():
        assert set(executor) == {"container"}, f"{label} is not a container executor: {set(executor)}"
        container = executor["container"]
        assert container["image"] == IMAGE, label
        assert container["command"] == list(ENTRYPOINT_COMMAND), label
        beam = label.split("_")[0] in BEAM_STEPS  # the Beam args go to the Beam steps only
        assert ("--runner=DirectRunner" in container["args"]) is beam, label
        assert ("--setup_file=/opt/imgpipe/setup.py" in container["args"]) is beam, label
    assert "resolver" not in json.dumps(executors).lower()


def test_user_code_by_import_path_paths_inside_the_image_and_serving_dir(kfp_yaml):
    spec = load_pipeline_spec(kfp_yaml)
    tasks = spec["root"]["dag"]["tasks"]

    def constant(task, name):
        return tasks[task]["inputs"]["parameters"][name]["runtimeValue"]["constant"]

    assert constant("Transform", "preprocessing_fn") == "components.transform.preprocessing.preprocessing_fn"
    assert constant("Trainer", "run_fn") == "components.trainer.train.run_fn"
    assert "module_file" not in json.dumps(tasks)
    assert constant("ImportSchemaGen", "schema_file") == "/opt/imgpipe/schemas/demo/schema.pbtxt"
    baseline = [t for t in tasks if "Baseline" in t]
    assert baseline and constant(baseline[0], "serving_model_dir") == f"{SERVING}/image_classifier"
    assert f"{SERVING}/image_classifier" in constant("Pusher", "push_destination")


def test_serving_dir_defaults_under_the_pipeline_root(vertex_json):
    tasks = load_pipeline_spec(vertex_json)["root"]["dag"]["tasks"]
    pusher = tasks["Pusher"]["inputs"]["parameters"]["push_destination"]["runtimeValue"]["constant"]
    assert "gs://bucket/root/serving/image_classifier" in pusher


def test_a_serving_dir_the_containers_cannot_write_is_refused(tmp_path, capsys):
    never = str(tmp_path / "never.yaml")
    assert main(["compile", "--image", IMAGE, "--pipeline-root", ROOT, "--output", never]) == 2
    assert capsys.readouterr().err == (
        f"imgpipe: error: --pipeline-root {ROOT}: models are pushed to <pipeline-root>/serving by default, "
        "which the containers cannot open (tf.io.gfile has no minio:// and the KFP launcher mirrors artifacts "
        "only); pass --serving-dir gs://bucket/serving or a path on a volume mounted into the pods\n")
    assert main(["compile", "--image", IMAGE, "--pipeline-root", ROOT, "--output", never,
                 "--serving-dir", "s3://models/serving"]) == 2
    assert "--serving-dir s3://models/serving: tf.io.gfile in the containers cannot open s3://" \
        in capsys.readouterr().err
    assert not os.path.exists(never)


def test_trainer_resources_land_in_the_compiled_spec(kfp_yaml):
    executors = load_pipeline_spec(kfp_yaml)["deploymentSpec"]["executors"]
    resources = executors["Trainer_executor"]["container"]["resources"]
    assert resources["cpuLimit"] == 4 and resources["memoryLimit"] == 16
    assert resources["accelerator"] == {"type": "nvidia.com/gpu", "count": "1"}
    assert all("resources" not in e["container"] for k, e in executors.items() if k != "Trainer_executor")


def test_training_containers_get_the_onednn_cap_imgpipe_run_would_lift_to(kfp_yaml):
    """A pod cannot lift oneDNN's AVX2 cap itself (TensorFlow loads before its config is read): the compiler
    writes the value `imgpipe run` would choose into the Trainer's container environment, which overrides
    the image's; the other steps keep the image's AVX2, and a network oneDNN's AVX-512 bug reaches gets none."""
    from pipeline.kubeflow.compiler import apply_onednn_isa

    spec = load_pipeline_spec(kfp_yaml)  # the default network: a multiple of 16 filters everywhere
    executors = spec["deploymentSpec"]["executors"]
    assert executors["Trainer_executor"]["container"]["env"] == [{"name": "ONEDNN_MAX_CPU_ISA",
                                                                  "value": "AVX512_CORE"}]
    assert all("env" not in e["container"] for k, e in executors.items() if k != "Trainer_executor")
    del executors["Trainer_executor"]["container"]["env"]
    apply_onednn_isa(spec, build_config(overrides=["model.stem_filters=8"]))
    assert "env" not in executors["Trainer_executor"]["container"]
    executors["Tuner_executor"] = json.loads(json.dumps(executors["Trainer_executor"]))
    apply_onednn_isa(spec, build_config())  # with a Tuner, both containers that train; applied twice, one entry
    apply_onednn_isa(spec, build_config())
    assert [e["container"]["env"] for k, e in executors.items() if "env" in e["container"]] == [
        [{"name": "ONEDNN_MAX_CPU_ISA", "value": "AVX512_CORE"}]] * 2


def test_gpus_without_an_accelerator_type_are_refused():
    from schemas.config import ConfigError
    with pytest.raises(ConfigError, match="kubeflow.trainer_gpu_type.*nvidia.com/gpu"):
        build_config("", ["kubeflow.trainer_gpus=2"])


def test_vertex_target_writes_a_pipeline_job_json(vertex_json):
    with open(vertex_json) as f:
        job = json.load(f)
    assert job["pipelineSpec"]["schemaVersion"] == "2.1.0"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    assert job["runtimeConfig"]["parameterValues"] == {"train_args": '{"num_steps": 0, "splits": ["train"]}'}
    assert runtime_parameter_defaults(vertex_json)["data_root"] is None  # compiled without --data


def test_compile_rejects_a_format_the_target_cannot_read(tmp_path, capsys):
    rc = main(["compile", "--target", "kfp", "--image", IMAGE, "--pipeline-root", ROOT,
               "--output", str(tmp_path / "p.json")])
    assert rc == 2 and "must end in .yaml or .yml" in capsys.readouterr().err


# --------------------------------------------------------------------------- submit and schedule

def _posted(fake, path):
    bodies = fake.posted(path)
    assert len(bodies) == 1, fake.requests
    return bodies[0]


def test_submit_creates_a_run_with_spec_root_and_parameters(fake_kfp, kfp_yaml, capsys):
    url, requests = fake_kfp.url, fake_kfp.requests
    rc = main(["submit", "--host", url, "--package", kfp_yaml, "--experiment", "nightly",
               "--run-name", "first", "--param", "train_steps=7", "--param", "data_root=gs://b/2026-11-27",
               "--pipeline-root", "minio://mlpipeline/other-root"])
    assert rc == 0, capsys.readouterr().err
    assert "Run created: run-1" in capsys.readouterr().out
    assert any(r["method"] == "GET" and r["path"] == "/apis/v2beta1/healthz" for r in requests)
    assert _posted(fake_kfp, "/experiments")["display_name"] == "nightly"
    run = _posted(fake_kfp, "/runs")
    assert run["experiment_id"] == "exp-1" and run["display_name"] == "first"
    assert run["pipeline_spec"]["schemaVersion"] == "2.1.0"
    assert run["pipeline_spec"]["root"] == load_pipeline_spec(kfp_yaml)["root"]
    assert run["runtime_config"] == {
        "pipeline_root": "minio://mlpipeline/other-root",
        "parameters": {"data_root": "gs://b/2026-11-27",
                       "train_args": '{"num_steps": 7, "splits": ["train"]}'}}


def test_schedule_creates_a_recurring_run_with_the_cron(fake_kfp, kfp_yaml, capsys):
    url = fake_kfp.url
    rc = main(["schedule", "--host", url, "--package", kfp_yaml, "--cron", "0 0 3 * * *",
               "--job-name", "nightly-3am"])
    assert rc == 0, capsys.readouterr().err
    assert "Recurring run created: rr-1" in capsys.readouterr().out
    job = _posted(fake_kfp, "/recurringruns")
    assert job["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert job["display_name"] == "nightly-3am" and job["mode"] == "ENABLE"
    assert job["experiment_id"] == "exp-1" and job["no_catchup"] is True and job["max_concurrency"] == 1
    assert job["pipeline_spec"]["defaultPipelineRoot"] == ROOT
    assert job["runtime_config"] == {"parameters": {}}  # the spec's defaults apply


def test_submit_compiles_on_the_fly_from_compile_options(fake_kfp, capsys):
    url = fake_kfp.url
    rc = main(["submit", "--host", url, "--image", IMAGE, "--pipeline-root", ROOT, "--data", DATA,
               "--serving-dir", SERVING,
               "--set", "train.epochs=3", "--beam-arg", "--runner=DirectRunner"])
    assert rc == 0, capsys.readouterr().err
    run = _posted(fake_kfp, "/runs")
    executors = run["pipeline_spec"]["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]
    assert trainer["image"] == IMAGE and "--runner=DirectRunner" in executors["Evaluator_executor"]["container"]["args"]
    config = run["pipeline_spec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["custom_config"]
    assert json.loads(json.loads(config["runtimeValue"]["constant"])["settings"])["train"]["epochs"] == 3


def test_a_five_field_cron_is_refused_with_the_six_field_form(fake_kfp, kfp_yaml, capsys):
    url, requests = fake_kfp.url, fake_kfp.requests
    rc = main(["schedule", "--host", url, "--package", kfp_yaml, "--cron", "0 3 * * *"])
    err = capsys.readouterr().err
    assert rc == 2 and 'KFP cron has 6 fields, seconds first: did you mean "0 0 3 * * *"?' in err
    assert requests == []


def test_unknown_host_is_one_clear_line(kfp_yaml, capsys):
    rc = main(["submit", "--host", "http://no-such-kfp-host.invalid:8080", "--package", kfp_yaml])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown host 'no-such-kfp-host.invalid'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unreachable_server_is_one_clear_line(kfp_yaml, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["submit", "--host", f"http://127.0.0.1:{port}", "--package", kfp_yaml])
    err = capsys.readouterr().err
    assert rc == 1 and f"cannot reach the KFP API at http://127.0.0.1:{port}: Connection refused" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_request_the_server_refuses_is_one_clear_line(fake_kfp, kfp_yaml, capsys):
    url = fake_kfp.url
    rc = main(["submit", "--host", url, "--package", kfp_yaml, "--run-name", "rejected"])
    err = capsys.readouterr().err
    assert rc == 1 and f"the KFP API at {url} refused the request: 400" in err
    assert "invalid pipeline spec" in err and "Traceback" not in err


def test_a_server_without_the_kfp_api_is_named(fake_kfp, kfp_yaml, capsys):
    url = fake_kfp.url
    rc = main(["submit", "--host", url + "/not-kfp", "--package", kfp_yaml])
    assert rc == 1 and "has no KFP API (404" in capsys.readouterr().err


def test_unknown_parameter_is_named(fake_kfp, kfp_yaml, capsys):
    url, requests = fake_kfp.url, fake_kfp.requests
    rc = main(["submit", "--host", url, "--package", kfp_yaml, "--param", "epochs=3"])
    assert rc == 2 and "unknown parameter(s) epochs" in capsys.readouterr().err and requests == []


# --------------------------------------------------------------------------- Vertex AI

def test_vertex_pipeline_job_is_built_from_the_json_with_the_parameters(vertex_json):
    from pipeline.kubeflow import client as kc

    job = kc.vertex_job(vertex_json, kc.parse_params(["data_root=gs://b/d", "train_steps=9"]),
                        None, "my-proj", "europe-west4", display_name="nightly")
    r = job._gca_resource
    assert r.display_name == "nightly"
    assert r.runtime_config.gcs_output_directory == "gs://bucket/root"
    assert dict(r.runtime_config.parameter_values) == {
        "data_root": "gs://b/d", "train_args": '{"num_steps": 9, "splits": ["train"]}'}
    assert r.pipeline_spec["schemaVersion"] == "2.1.0"
    assert job.project == "my-proj" and job.location == "europe-west4"
    with pytest.raises(kc.SubmitError, match="no default for data_root"):
        kc.vertex_job(vertex_json, {}, None, "my-proj", "europe-west4")


def test_vertex_submit_without_credentials_says_so(vertex_json, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud application-default login
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # do not probe a metadata server
    rc = main(["submit", "--target", "vertex", "--package", vertex_json, "--project", "my-proj",
               "--param", "data_root=gs://b/d"])
    captured = capsys.readouterr()
    assert rc == 1 and "parameters" in captured.out
    assert "submitting needs Google Cloud credentials and none were found" in captured.err
    assert "Traceback" not in captured.err


def test_vertex_schedule_wants_a_five_field_cron(vertex_json, capsys):
    rc = main(["schedule", "--target", "vertex", "--package", vertex_json, "--project", "p",
               "--cron", "0 0 3 * * *"])
    assert rc == 2 and 'did you mean "0 3 * * *"' in capsys.readouterr().err
