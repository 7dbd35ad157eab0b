"""What a KFP launcher builds for one task of `imgpipe run-spec`: the run's shared state, the pipeline's
parameter values, and each task's ExecutorInput (parameters, upstream artifacts, output URIs and the
placeholders of its command line), as read from the KFP and TFX sources (docs/kubeflow.md)."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from typing import Dict, List

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.mirrors import REMOTE_SCHEMES, mirror_path
from pipeline.kubeflow.spec_check import OSS_SCHEMA, CompiledSpec, SpecError


OSS_BUCKET_URI = "minio://mlpipeline/v2/artifacts"


@dataclasses.dataclass
class RunOptions:
    workdir: str
    oss: bool = False
    params: Dict[str, str] = dataclasses.field(default_factory=dict)  # --param name=value
    entrypoint: str = "spec"  # spec (as compiled) | ours | stock
    only: List[str] = dataclasses.field(default_factory=list)  # rerun these tasks of an earlier run
    run_id: str = ""  # with `only`: which earlier run (default: the last one in workdir)
    until: str = ""  # --until TASK: stop after this task (the tasks ordered before it run too)


@dataclasses.dataclass
class RunState:
    """What every task of one run shares."""
    compiled: CompiledSpec
    options: RunOptions
    run_id: str
    run_dir: str
    pipeline_params: Dict[str, object]
    outputs: Dict[str, Dict[str, List[pb.RuntimeArtifact]]]
    output_params: Dict[str, Dict[str, object]]
    skipped: set = dataclasses.field(default_factory=set)

    @property
    def schema_2_1(self) -> bool:
        return self.compiled.spec.schema_version == OSS_SCHEMA


def read_text(path: str) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path) as f:
        return f.read().strip()


def pipeline_parameters(compiled: CompiledSpec, overrides: Dict[str, str]) -> Dict[str, object]:
    """Pipeline input values: spec defaults < the PipelineJob's runtimeConfig < --param overrides."""
    definitions = compiled.spec.root.input_definitions.parameters
    values: Dict[str, object] = {}
    for name, definition in definitions.items():
        if definition.HasField("default_value"):
            values[name] = json_format.MessageToDict(definition.default_value)
    values.update(compiled.runtime_config.get("parameterValues", {}))
    for name, value in compiled.runtime_config.get("parameters", {}).items():
        values[name] = _from_kfp_value_dict(value)
    unknown = sorted(set(overrides) - set(definitions))
    if unknown:
        raise SpecError(f"--param {', '.join(unknown)}: not a parameter of this pipeline; "
                        f"it has: {', '.join(sorted(definitions)) or 'none'}")
    for name, text in overrides.items():
        values[name] = _coerce(name, text, definitions[name])
    missing = sorted(n for n, d in definitions.items() if n not in values and not d.is_optional)
    if missing:
        raise SpecError(f"pipeline parameter(s) {', '.join(missing)} have no value: pass "
                        + " ".join(f"--param {n}=VALUE" for n in missing))
    return values


def _from_kfp_value_dict(value: dict) -> object:
    """A schema-2.0 `Value` in JSON form ({"intValue": "3"}) as a Python value."""
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    return value.get("stringValue", "")


def _coerce(name: str, text: str, definition: pb.ComponentInputsSpec.ParameterSpec) -> object:
    """A --param string as the parameter's declared type."""
    kind = (pb.ParameterType.ParameterTypeEnum.Name(definition.parameter_type) if definition.parameter_type
            else pb.PrimitiveType.PrimitiveTypeEnum.Name(definition.type))
    try:
        if kind in ("NUMBER_INTEGER", "INT"):
            return int(text)
        if kind in ("NUMBER_DOUBLE", "DOUBLE"):
            return float(text)
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind in ("LIST", "STRUCT"):
            return json.loads(text)
    except ValueError:
        raise SpecError(f"--param {name}={text}: not a valid {kind}") from None
    return text


def build_executor_input(run: RunState, name: str, task: pb.PipelineTaskSpec, component: pb.ComponentSpec,
                         task_dir: str) -> pb.ExecutorInput:
    """The ExecutorInput a launcher gives this task: resolved inputs, provisioned outputs."""
    executor_input = pb.ExecutorInput()
    for key, source in task.inputs.parameters.items():
        value = _parameter_value(run, name, key, source)
        if run.schema_2_1:
            json_format.ParseDict(value, executor_input.inputs.parameter_values[key])
        else:
            kind = component.input_definitions.parameters[key].type
            executor_input.inputs.parameters[key].CopyFrom(_to_kfp_value(value, kind))
    for key, source in task.inputs.artifacts.items():
        executor_input.inputs.artifacts[key].artifacts.extend(
            _input_artifacts(run, name, key, source, component.input_definitions.artifacts[key]))
    output_file = os.path.join(task_dir, "executor_output.json")
    if os.path.exists(output_file):
        os.remove(output_file)  # a stale file would look like a driver's output to TFX
    executor_input.outputs.output_file = output_file
    for key, definition in component.output_definitions.artifacts.items():
        artifact = executor_input.outputs.artifacts[key].artifacts.add(
            name=f"{run.run_id}/{name}/{key}", uri=_output_uri(run, name, key))
        artifact.type.CopyFrom(definition.artifact_type)
        _prepare_output_location(run, artifact.uri)
    for key in component.output_definitions.parameters:
        executor_input.outputs.parameters[key].output_file = os.path.join(task_dir, "parameters", key)
    return executor_input


def _parameter_value(run: RunState, task: str, key: str, source: pb.TaskInputsSpec.InputParameterSpec):
    kind = source.WhichOneof("kind")
    if kind == "runtime_value":
        value = source.runtime_value
        if value.HasField("constant"):
            return json_format.MessageToDict(value.constant)
        return _from_kfp_value_dict(json_format.MessageToDict(value.constant_value))
    if kind == "component_input_parameter":
        if source.component_input_parameter not in run.pipeline_params:
            raise SpecError(f"task {task} parameter '{key}' needs pipeline parameter "
                            f"'{source.component_input_parameter}': pass --param "
                            f"{source.component_input_parameter}=VALUE")
        return run.pipeline_params[source.component_input_parameter]
    if kind == "task_output_parameter":
        producer = source.task_output_parameter
        try:
            return run.output_params[producer.producer_task][producer.output_parameter_key]
        except KeyError:
            raise SpecError(f"task {task} parameter '{key}': task {producer.producer_task} produced no "
                            f"output parameter '{producer.output_parameter_key}'") from None
    raise SpecError(f"task {task} parameter '{key}': run-spec cannot resolve a '{kind}' input")


def _to_kfp_value(value, kind: int) -> pb.Value:
    """A Python value as a schema-2.0 `Value` of the declared primitive type."""
    if kind == pb.PrimitiveType.INT:
        return pb.Value(int_value=int(value))
    if kind == pb.PrimitiveType.DOUBLE:
        return pb.Value(double_value=float(value))
    return pb.Value(string_value=value if isinstance(value, str) else json.dumps(value))


def _input_artifacts(run: RunState, task: str, key: str, source: pb.TaskInputsSpec.InputArtifactSpec,
                     definition: pb.ComponentInputsSpec.ArtifactSpec) -> List[pb.RuntimeArtifact]:
    """Upstream output artifacts as this task receives them (typed, or untyped under --oss)."""
    if source.WhichOneof("kind") != "task_output_artifact":
        raise SpecError(f"task {task} input '{key}': run-spec resolves task outputs only, "
                        f"not '{source.WhichOneof('kind')}'")
    producer = source.task_output_artifact
    artifacts = run.outputs.get(producer.producer_task, {}).get(producer.output_artifact_key)
    if artifacts is None:
        raise SpecError(f"task {task} input '{key}': no output '{producer.output_artifact_key}' recorded "
                        f"for task {producer.producer_task} in {run.run_dir}")
    result = []
    for upstream in artifacts:
        artifact = pb.RuntimeArtifact()
        artifact.CopyFrom(upstream)
        if run.options.oss:
            artifact.ClearField("type")  # what the open-source backend hands over
            if not artifact.uri.startswith(REMOTE_SCHEMES):
                raise SpecError(f"task {task} input '{key}': upstream task {producer.producer_task} "
                                f"recorded its output at '{artifact.uri}', not an object-store URI; the KFP "
                                "launcher cannot download that (the entrypoint must map mirror paths back)")
        else:
            artifact.type.CopyFrom(definition.artifact_type)
        result.append(artifact)
    return result


def _output_uri(run: RunState, task: str, key: str) -> str:
    """Where the launcher puts an output: the MinIO bucket under --oss, else under the work dir."""
    pipeline = run.compiled.spec.pipeline_info.name
    if run.options.oss:
        return f"{OSS_BUCKET_URI}/{pipeline}/{run.run_id}/{task}/{key}"
    return os.path.join(os.path.abspath(run.options.workdir), "pipeline_root", pipeline, run.run_id, task,
                        key)


def local_path(run: RunState, uri: str) -> str:
    """The bytes behind a URI: under --oss, the mirror `<workdir>/minio/<bucket>/...` plays the store."""
    mirrored = mirror_path(uri, os.path.abspath(run.options.workdir)) if run.options.oss else None
    return mirrored or uri


def _prepare_output_location(run: RunState, uri: str) -> None:
    """As the launcher does: an empty place for the output, its parent folder created."""
    path = local_path(run, uri)
    if os.path.isdir(path):
        shutil.rmtree(path)  # only on --only reruns: outputs of a fresh run never exist yet
    elif os.path.exists(path):
        os.remove(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)


_PLACEHOLDER = re.compile(r"\{\{\$(\.[^}]*)?\}\}")


_IO_PLACEHOLDER = re.compile(r"^\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(\w+))?$")


def resolve_placeholders(arg: str, executor_input: pb.ExecutorInput, run: RunState) -> str:
    """Substitute KFP placeholders the way the launcher does: {{$}} is the executor input JSON."""
    def substitute(match: "re.Match") -> str:
        if match.group(1) is None:
            return json_format.MessageToJson(executor_input)
        io = _IO_PLACEHOLDER.match(match.group(1))
        if not io:
            raise SpecError(f"run-spec does not know the placeholder {match.group(0)}")
        side, kind, key, attr = io.groups()
        section = getattr(executor_input, side)
        if kind == "parameters" and side == "inputs":
            value = json_format.MessageToDict(section.parameter_values[key])
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # protobuf numbers are doubles; the launcher writes 20, not 20.0
            return value if isinstance(value, str) else json.dumps(value)
        if kind == "parameters":
            return section.parameters[key].output_file
        artifact = section.artifacts[key].artifacts[0]
        return local_path(run, artifact.uri) if attr == "path" else artifact.uri
    return _PLACEHOLDER.sub(substitute, arg)
