"""Run a compiled spec here, task by task, no cluster needed (`imgpipe run-spec`).

`run_spec` plays the part of the KFP driver and launcher: it walks the DAG in
order and, for each task, builds the executor input a launcher would build
(parameters, upstream output artifacts, output URIs, the executor output file),
runs the task's own container command and args as a subprocess, and reads the
executor output back to feed downstream tasks. With `oss=True` it imitates the
open-source KFP v2 backend instead of Vertex AI: `minio://` artifact URIs whose
bytes live in a local mirror under the work dir, upstream artifacts with an empty
type schema, and no driver hook (FileBasedExampleGen's span/version/fingerprint).
What it does not exercise: the image, Kubernetes, the object-store sync, caching,
and the KFP driver/launcher binaries themselves (docs/kubeflow.md, 'What was not exercised').
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Optional

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.conditions import condition_holds
from pipeline.kubeflow.mirrors import MIRROR_ROOT_ENV, REMOTE_SCHEMES, mirror_path
from pipeline.kubeflow.spec import ENTRYPOINT_COMMAND
from pipeline.kubeflow.spec_check import OSS_SCHEMA, CompiledSpec, SpecError, structure_problems, topological_order

ENTRYPOINTS = {
    "ours": list(ENTRYPOINT_COMMAND),
    "stock": ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"],
}
OSS_BUCKET_URI = "minio://mlpipeline/v2/artifacts"
STDERR_TAIL_LINES = 25


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
class TaskResult:
    name: str
    seconds: float
    exit_code: int
    stderr_tail: str = ""
    log_dir: str = ""
    skipped: str = ""  # why the task did not run (its trigger condition was false), as the KFP driver skips it


@dataclasses.dataclass
class RunResult:
    run_dir: str
    tasks: List[TaskResult]
    outputs: Dict[str, Dict[str, List[pb.RuntimeArtifact]]]  # task -> output key -> artifacts

    @property
    def failed(self) -> Optional[TaskResult]:
        return next((t for t in self.tasks if t.exit_code != 0), None)


@dataclasses.dataclass
class _Run:
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


def run_spec(compiled: CompiledSpec, options: RunOptions, echo=None) -> RunResult:
    """Run every task of the root DAG in order; stop at the first failure.

    Progress goes to `echo` (default: print); task logs to `<run folder>/tasks/<task>/`.
    """
    echo = echo or (lambda message: print(message, flush=True))
    problems = structure_problems(compiled)
    if problems:
        raise SpecError("the spec has problems (imgpipe validate-spec lists them all): " + problems[0])
    tasks = compiled.spec.root.dag.tasks
    order = topological_order(tasks)
    unknown = [t for t in options.only if t not in tasks]
    if unknown:
        raise SpecError(f"--only {', '.join(unknown)}: no such task; tasks: {', '.join(order)}")
    if options.until and options.until not in tasks:
        raise SpecError(f"--until {options.until}: no such task; tasks: {', '.join(order)}")
    if options.until and options.only:
        raise SpecError("--until and --only do not go together: --only names the tasks to rerun")
    run = _start_run(compiled, options)
    to_run = [t for t in order if not options.only or t in options.only]
    if options.until:
        to_run = to_run[:to_run.index(options.until) + 1]
    mode = "open-source KFP imitation (--oss)" if options.oss else "Vertex-like launcher"
    echo(f"Run {run.run_id} of '{compiled.spec.pipeline_info.name}': {len(to_run)} task(s), {mode}, "
         f"entrypoint: {'as compiled' if options.entrypoint == 'spec' else options.entrypoint}")
    echo(f"Run folder: {run.run_dir}")
    results = []
    for i, name in enumerate(to_run, 1):
        echo(f"[{i:2d}/{len(to_run)}] {name}: start")
        result = _run_task(run, name)
        results.append(result)
        status = (f"skipped ({result.skipped})" if result.skipped
                  else "ok" if result.exit_code == 0 else f"FAILED (exit {result.exit_code})")
        echo(f"[{i:2d}/{len(to_run)}] {name}: {status} in {result.seconds:.1f} s")
        if result.exit_code != 0:
            echo(f"--- last lines of {name}'s stderr (full logs: {result.log_dir}) ---\n{result.stderr_tail}")
            break
    return RunResult(run.run_dir, results, run.outputs)


def _start_run(compiled: CompiledSpec, options: RunOptions) -> _Run:
    """A new run folder, or with --only the last run's, with its recorded upstream outputs."""
    params = pipeline_parameters(compiled, options.params)  # fail before creating anything
    runs = os.path.join(os.path.abspath(options.workdir), "runs")
    latest = os.path.join(runs, "LATEST")
    if options.only:
        run_id = options.run_id or _read_text(latest)
        if not run_id or not os.path.isdir(os.path.join(runs, run_id)):
            raise SpecError(f"--only reruns tasks of an earlier run in {options.workdir}, and there is "
                            f"{'no run ' + run_id if run_id else 'none'}: run the whole spec first")
    else:
        run_id = time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = os.path.join(runs, run_id)
    os.makedirs(run_dir, exist_ok=True)
    with open(latest, "w") as f:
        f.write(run_id)
    run = _Run(compiled, options, run_id, run_dir, params, {}, {})
    for name in compiled.spec.root.dag.tasks:
        if name not in options.only:
            _load_recorded_outputs(run, name)
    return run


def _read_text(path: str) -> str:
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


def _run_task(run: _Run, name: str) -> TaskResult:
    """One task as a launcher would run it: executor input, (driver hook), container, outputs."""
    spec = run.compiled.spec
    task = spec.root.dag.tasks[name]
    component = spec.components[task.component_ref.name]
    executor = run.compiled.deployment.executors[component.executor_label]
    if executor.WhichOneof("spec") != "container":
        raise SpecError(f"task {name}: run-spec runs container executors only, this one is "
                        f"'{executor.WhichOneof('spec')}'")
    task_dir = os.path.join(run.run_dir, "tasks", name)
    os.makedirs(task_dir, exist_ok=True)
    started = time.monotonic()
    skipped_upstream = sorted(set(task.dependent_tasks) & run.skipped)
    if skipped_upstream:
        return _skip(run, name, started, f"upstream {', '.join(skipped_upstream)} skipped")
    executor_input = build_executor_input(run, name, task, component, task_dir)
    with open(os.path.join(task_dir, "executor_input.json"), "w") as f:
        f.write(json_format.MessageToJson(executor_input))
    condition = task.trigger_policy.condition
    if condition and not condition_holds(name, condition, executor_input):
        return _skip(run, name, started, "trigger condition false: " + " ".join(condition.split()))
    container = executor.container
    code = _run_driver_hook(run, container, executor_input, task_dir)
    if code != 0:
        return _result(name, started, code, task_dir, "driver")
    command = ENTRYPOINTS.get(run.options.entrypoint, list(container.command))
    code = _execute(run, command, list(container.args), executor_input, container, task_dir, "executor")
    if code == 0:
        try:
            _collect_outputs(run, name, executor_input, task_dir)
        except SpecError as e:
            with open(os.path.join(task_dir, "executor.stderr.log"), "a") as f:
                f.write(f"\nrun-spec: {e}\n")
            code = 1
    return _result(name, started, code, task_dir, "executor")


def _skip(run: _Run, name: str, started: float, reason: str) -> TaskResult:
    """A task the driver does not launch: no outputs, and the tasks that need them are skipped too."""
    run.skipped.add(name)
    return TaskResult(name, time.monotonic() - started, 0, skipped=reason)


def _run_driver_hook(run: _Run, container, executor_input: pb.ExecutorInput, task_dir: str) -> int:
    """FileBasedExampleGen's pre-cache-check driver, as Vertex runs it (the open-source backend does not).

    It writes span/version/fingerprint to the executor output file, where TFX's
    entrypoint picks them up; the executor then overwrites it, so a copy is kept.
    """
    hook = container.lifecycle.pre_cache_check
    if not hook.command or run.options.oss:
        return 0
    code = _execute(run, list(hook.command), list(hook.args), executor_input, container, task_dir, "driver")
    if code == 0 and os.path.isfile(executor_input.outputs.output_file):
        shutil.copyfile(executor_input.outputs.output_file, os.path.join(task_dir, "driver_output.json"))
    return code


def _result(name: str, started: float, code: int, task_dir: str, stage: str) -> TaskResult:
    with open(os.path.join(task_dir, f"{stage}.stderr.log"), errors="replace") as f:
        tail = "".join(f.readlines()[-STDERR_TAIL_LINES:]) if code else ""
    return TaskResult(name, time.monotonic() - started, code, tail.rstrip(), task_dir)


def build_executor_input(run: _Run, name: str, task: pb.PipelineTaskSpec, component: pb.ComponentSpec,
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


def _parameter_value(run: _Run, task: str, key: str, source: pb.TaskInputsSpec.InputParameterSpec):
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


def _input_artifacts(run: _Run, task: str, key: str, source: pb.TaskInputsSpec.InputArtifactSpec,
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



def _output_uri(run: _Run, task: str, key: str) -> str:
    """Where the launcher puts an output: the MinIO bucket under --oss, else under the work dir."""
    pipeline = run.compiled.spec.pipeline_info.name
    if run.options.oss:
        return f"{OSS_BUCKET_URI}/{pipeline}/{run.run_id}/{task}/{key}"
    return os.path.join(os.path.abspath(run.options.workdir), "pipeline_root", pipeline, run.run_id, task,
                        key)


def local_path(run: _Run, uri: str) -> str:
    """The bytes behind a URI: under --oss, the mirror `<workdir>/minio/<bucket>/...` plays the store."""
    mirrored = mirror_path(uri, os.path.abspath(run.options.workdir)) if run.options.oss else None
    return mirrored or uri


def _prepare_output_location(run: _Run, uri: str) -> None:
    """As the launcher does: an empty place for the output, its parent folder created."""
    path = local_path(run, uri)
    if os.path.isdir(path):
        shutil.rmtree(path)  # only on --only reruns: outputs of a fresh run never exist yet
    elif os.path.exists(path):
        os.remove(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)


_PLACEHOLDER = re.compile(r"\{\{\$(\.[^}]*)?\}\}")
_IO_PLACEHOLDER = re.compile(r"^\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(\w+))?$")


def resolve_placeholders(arg: str, executor_input: pb.ExecutorInput, run: _Run) -> str:
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


def _execute(run: _Run, command: List[str], args: List[str], executor_input: pb.ExecutorInput,
             container, task_dir: str, stage: str) -> int:
    """Run the container command here: `python` is this interpreter, there being no image."""
    if command and command[0] in ("python", "python3"):
        command = [sys.executable] + command[1:]
    argv = command + [resolve_placeholders(a, executor_input, run) for a in args]
    env = dict(os.environ)
    env.update({e.name: e.value for e in container.env})
    env.pop(MIRROR_ROOT_ENV, None)
    if run.options.oss:
        env[MIRROR_ROOT_ENV] = os.path.abspath(run.options.workdir)
    with open(os.path.join(task_dir, f"{stage}.stdout.log"), "w") as out, \
            open(os.path.join(task_dir, f"{stage}.stderr.log"), "w") as err:
        return subprocess.run(argv, stdout=out, stderr=err, env=env, cwd=task_dir, check=False).returncode


def _collect_outputs(run: _Run, name: str, executor_input: pb.ExecutorInput, task_dir: str) -> None:
    """Merge the executor output into the provisioned outputs, as the launcher records them."""
    output = pb.ExecutorOutput()
    if os.path.isfile(executor_input.outputs.output_file):
        with open(executor_input.outputs.output_file) as f:
            json_format.Parse(f.read(), output, ignore_unknown_fields=True)
    recorded = pb.ExecutorOutput()
    for key, provisioned in executor_input.outputs.artifacts.items():
        written = output.artifacts[key].artifacts if key in output.artifacts else []
        for i, artifact in enumerate(provisioned.artifacts):
            merged = recorded.artifacts[key].artifacts.add()
            merged.CopyFrom(artifact)
            if i < len(written):
                merged.uri = written[i].uri or artifact.uri
                merged.metadata.CopyFrom(written[i].metadata)
    for key, parameter in executor_input.outputs.parameters.items():
        if key in output.parameter_values:
            recorded.parameter_values[key].CopyFrom(output.parameter_values[key])
        elif os.path.isfile(parameter.output_file):
            with open(parameter.output_file) as f:
                recorded.parameter_values[key].string_value = f.read()
        else:
            raise SpecError(f"task {name} wrote no value for its output parameter '{key}'")
    with open(os.path.join(task_dir, "outputs.json"), "w") as f:
        f.write(json_format.MessageToJson(recorded))
    _record(run, name, recorded)


def _record(run: _Run, name: str, recorded: pb.ExecutorOutput) -> None:
    run.outputs[name] = {k: list(v.artifacts) for k, v in recorded.artifacts.items()}
    run.output_params[name] = {k: json_format.MessageToDict(v) for k, v in recorded.parameter_values.items()}


def _load_recorded_outputs(run: _Run, name: str) -> None:
    """A task's outputs as recorded by an earlier run in the same run folder (for --only)."""
    path = os.path.join(run.run_dir, "tasks", name, "outputs.json")
    if os.path.isfile(path):
        with open(path) as f:
            _record(run, name, json_format.Parse(f.read(), pb.ExecutorOutput()))
