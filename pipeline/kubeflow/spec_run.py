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
import os
import shutil
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Optional

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.conditions import condition_holds
from pipeline.kubeflow.launcher import (RunOptions, RunState, build_executor_input, pipeline_parameters, read_text,
                                        resolve_placeholders)
from pipeline.kubeflow.mirrors import MIRROR_ROOT_ENV
from pipeline.kubeflow.spec import ENTRYPOINT_COMMAND
from pipeline.kubeflow.spec_check import CompiledSpec, SpecError, structure_problems, topological_order

ENTRYPOINTS = {
    "ours": list(ENTRYPOINT_COMMAND),
    "stock": ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"],
}
STDERR_TAIL_LINES = 25


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


def _start_run(compiled: CompiledSpec, options: RunOptions) -> RunState:
    """A new run folder, or with --only the last run's, with its recorded upstream outputs."""
    params = pipeline_parameters(compiled, options.params)  # fail before creating anything
    runs = os.path.join(os.path.abspath(options.workdir), "runs")
    latest = os.path.join(runs, "LATEST")
    if options.only:
        run_id = options.run_id or read_text(latest)
        if not run_id or not os.path.isdir(os.path.join(runs, run_id)):
            raise SpecError(f"--only reruns tasks of an earlier run in {options.workdir}, and there is "
                            f"{'no run ' + run_id if run_id else 'none'}: run the whole spec first")
    else:
        run_id = time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = os.path.join(runs, run_id)
    os.makedirs(run_dir, exist_ok=True)
    with open(latest, "w") as f:
        f.write(run_id)
    run = RunState(compiled, options, run_id, run_dir, params, {}, {})
    for name in compiled.spec.root.dag.tasks:
        if name not in options.only:
            _load_recorded_outputs(run, name)
    return run


def _run_task(run: RunState, name: str) -> TaskResult:
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


def _skip(run: RunState, name: str, started: float, reason: str) -> TaskResult:
    """A task the driver does not launch: no outputs, and the tasks that need them are skipped too."""
    run.skipped.add(name)
    return TaskResult(name, time.monotonic() - started, 0, skipped=reason)


def _run_driver_hook(run: RunState, container, executor_input: pb.ExecutorInput, task_dir: str) -> int:
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


def _execute(run: RunState, command: List[str], args: List[str], executor_input: pb.ExecutorInput,
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


def _collect_outputs(run: RunState, name: str, executor_input: pb.ExecutorInput, task_dir: str) -> None:
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


def _record(run: RunState, name: str, recorded: pb.ExecutorOutput) -> None:
    run.outputs[name] = {k: list(v.artifacts) for k, v in recorded.artifacts.items()}
    run.output_params[name] = {k: json_format.MessageToDict(v) for k, v in recorded.parameter_values.items()}


def _load_recorded_outputs(run: RunState, name: str) -> None:
    """A task's outputs as recorded by an earlier run in the same run folder (for --only)."""
    path = os.path.join(run.run_dir, "tasks", name, "outputs.json")
    if os.path.isfile(path):
        with open(path) as f:
            _record(run, name, json_format.Parse(f.read(), pb.ExecutorOutput()))
