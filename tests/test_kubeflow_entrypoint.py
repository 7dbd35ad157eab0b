"""Our container entrypoint repairs what open-source KFP v2 hands a TFX executor.

The executor inputs here are shaped like the ones the open-source launcher
builds (untyped upstream artifacts at `minio://` URIs whose bytes sit in the
launcher's local mirror); the executor is the pipeline's real DataGate.
"""
import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base import base_executor
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.types import standard_artifacts

from components.data_validation.gate import ANOMALIES_FILE, DataValidationError
from pipeline.kubeflow import entrypoint as kfp_entrypoint
from pipeline.kubeflow import mirrors as kfp_mirrors

ANOMALIES_URI = "minio://mlpipeline/v2/artifacts/imgpipe/run-1/ExampleValidator/anomalies"


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv(kfp_mirrors.MIRROR_ROOT_ENV, str(tmp_path))
    return tmp_path


def test_object_store_uris_map_to_the_launcher_mirrors_and_back(mirror):
    for uri, local in [("minio://mlpipeline/a/b", "minio/mlpipeline/a/b"), ("s3://bucket/x", "s3/bucket/x")]:
        assert kfp_mirrors.to_local(uri) == str(mirror / local)
        assert kfp_mirrors.to_remote(str(mirror / local)) == uri
    assert kfp_mirrors.to_local("/data/images") == "/data/images"
    assert kfp_mirrors.to_remote("/data/images") == "/data/images"


def test_gs_uris_use_the_mirror_only_where_the_launcher_made_one(mirror):
    # tf.io.gfile reads gs:// itself (Vertex AI); on open-source KFP the launcher mirrors it to /gcs.
    assert kfp_mirrors.to_local("gs://bucket/m") == "gs://bucket/m"
    (mirror / "gcs").mkdir()
    assert kfp_mirrors.to_local("gs://bucket/m") == str(mirror / "gcs" / "bucket" / "m")


def anomalies_inputs_spec() -> pb.ComponentInputsSpec:
    """DataGate's inputs spec exactly as TFX compiles it into the container args."""
    spec = pb.ComponentInputsSpec()
    spec.artifacts["anomalies"].artifact_type.instance_schema = compiler_utils.get_artifact_schema(
        standard_artifacts.ExampleAnomalies).decode()
    return spec


def oss_executor_input(task_dir) -> pb.ExecutorInput:
    """An upstream ExampleAnomalies as the open-source backend passes it: no type, a minio:// URI."""
    executor_input = pb.ExecutorInput()
    artifact = executor_input.inputs.artifacts["anomalies"].artifacts.add(name="7", uri=ANOMALIES_URI)
    artifact.metadata.update({"split_names": '["train", "eval"]'})
    executor_input.outputs.output_file = str(task_dir / "executor_output.json")
    return executor_input


def write_anomalies(mirror, problems: dict) -> None:
    for split in ("train", "eval"):
        folder = mirror / "minio" / ANOMALIES_URI[len("minio://"):] / f"Split-{split}"
        folder.mkdir(parents=True)
        anomalies = anomalies_pb2.Anomalies()
        for feature, text in problems.items():
            anomalies.anomaly_info[feature].short_description = text
        (folder / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())


def test_empty_types_are_filled_from_the_inputs_spec_and_typed_ones_kept(mirror):
    executor_input = oss_executor_input(mirror)
    typed = executor_input.inputs.artifacts["anomalies"].artifacts.add(uri="/x")
    typed.type.schema_title = "tfx.ExampleAnomalies"
    assert kfp_entrypoint.fill_empty_types(executor_input, anomalies_inputs_spec()) == 1
    first, second = executor_input.inputs.artifacts["anomalies"].artifacts
    assert first.type.instance_schema.startswith("title: tfx.ExampleAnomalies")
    assert second.type.schema_title == "tfx.ExampleAnomalies"


def test_an_untyped_artifact_without_an_inputs_spec_is_a_clear_error(mirror):
    with pytest.raises(kfp_entrypoint.EntrypointError, match=r"input artifact 'anomalies' .* no type schema"
                       r".*imgpipe compile --target kfp"):
        kfp_entrypoint.fill_empty_types(oss_executor_input(mirror), None)


def run_entrypoint(executor_input: pb.ExecutorInput, inputs_spec: pb.ComponentInputsSpec) -> None:
    argv = ["--executor_class_path", "components.data_validation.gate.DataGate_Executor",
            "--json_serialized_invocation_args", json_format.MessageToJson(executor_input),
            "--json_serialized_inputs_spec_args", json_format.MessageToJson(inputs_spec)]
    kfp_entrypoint.run(kfp_entrypoint.stock._parse_flags(argv))  # pylint: disable=protected-access


def test_the_real_executor_reads_an_untyped_minio_artifact_through_the_mirror(mirror):
    write_anomalies(mirror, {})
    executor_input = oss_executor_input(mirror)
    run_entrypoint(executor_input, anomalies_inputs_spec())
    with open(executor_input.outputs.output_file) as f:
        assert json.load(f) == {}  # DataGate has no outputs; the launcher gets a valid ExecutorOutput


def test_the_executor_sees_the_artifact_s_splits_and_bytes(mirror):
    write_anomalies(mirror, {"label_name": "Unexpected string values"})
    with pytest.raises(DataValidationError, match=r"\[train\] feature 'label_name': Unexpected string values"):
        run_entrypoint(oss_executor_input(mirror), anomalies_inputs_spec())


def test_output_uris_and_uri_metadata_are_mapped_back_for_the_launcher(mirror, tmp_path):
    local = str(mirror / "minio" / "mlpipeline" / "run" / "Trainer" / "model")
    output = pb.ExecutorOutput()
    artifact = output.artifacts["model"].artifacts.add(uri=local)
    artifact.metadata.update({"current_model": local, "blessed": 1, "note": "/data/elsewhere"})
    path = tmp_path / "executor_output.json"
    path.write_text(json_format.MessageToJson(output))
    kfp_entrypoint.map_output_uris_back(str(path))
    back = json_format.Parse(path.read_text(), pb.ExecutorOutput()).artifacts["model"].artifacts[0]
    assert back.uri == "minio://mlpipeline/run/Trainer/model"
    assert dict(back.metadata) == {"current_model": back.uri, "blessed": 1, "note": "/data/elsewhere"}


class Thumbnails(tfx.dsl.Artifact):
    """A custom type named the way TFX's KFP compiler demands: `<namespace>.<TypeName>`."""
    TYPE_NAME = "imgtest.Thumbnails"


class ThumbnailExecutor(base_executor.BaseExecutor):
    """The executor whose module defines the custom type (as ImageDataValidator's does)."""


def test_custom_artifact_types_are_found_through_the_executor_s_module(tmp_path):
    executor_input = pb.ExecutorInput()
    for side, key, artifact_type in (("inputs", "examples", standard_artifacts.Examples),
                                     ("outputs", "thumbnails", Thumbnails)):
        artifact = getattr(executor_input, side).artifacts[key].artifacts.add(uri=str(tmp_path / key))
        artifact.type.instance_schema = compiler_utils.get_artifact_schema(artifact_type)
    with pytest.raises(ImportError, match="Could not import imgtest.Thumbnails"):  # what TFX alone does
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.outputs.artifacts)
    path = f"{ThumbnailExecutor.__module__}.ThumbnailExecutor"
    assert kfp_entrypoint.resolve_custom_types(executor_input, path) == 1
    outputs = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.outputs.artifacts)
    inputs = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.inputs.artifacts)
    assert type(outputs["thumbnails"][0]) is Thumbnails
    assert type(inputs["examples"][0]) is standard_artifacts.Examples


def test_a_spec_compiled_by_another_version_is_told_to_recompile():
    """A spec names executor class paths; one that this image lacks (the code moved): one line, exit 2."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "pipeline.kubeflow.entrypoint", "--executor_class_path",
            "components.data_gate.DataGate_Executor", "--json_serialized_invocation_args", "{}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "runs components.data_gate.DataGate_Executor" in result.stderr and "Recompile it" in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("imgpipe: error:")] == [
        result.stderr.strip().splitlines()[-1]]
