"""Is a compiled spec well formed? `load_spec` reads it; `validate_spec` lists what would stop it.

The checks need no cluster: schema version (open-source KFP accepts only 2.1.0),
names, DAG wiring (dependent tasks, inputs from unknown tasks or outputs), cycles,
each executor's image, command and Beam runner arguments (pipeline/kubeflow/beam_runner.py),
and no resolver nodes (open-source KFP v2 does not run them). `topological_order` is the order `spec_run` runs the tasks in.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.beam_runner import runner_arg_problems

SUPPORTED_SCHEMAS = ("2.0.0", "2.1.0")
OSS_SCHEMA = "2.1.0"  # the open-source backend rejects 2.0.0


class SpecError(ValueError):
    """The file is not a pipeline spec we can read, or cannot be run as asked."""


@dataclasses.dataclass
class CompiledSpec:
    path: str
    spec: pb.PipelineSpec
    deployment: pb.PipelineDeploymentConfig
    runtime_config: dict  # a PipelineJob's runtimeConfig (JSON form); {} for a bare PipelineSpec
    is_job: bool


def load_spec(path: str) -> CompiledSpec:
    """Read a compiled file: YAML or JSON, a PipelineJob or a bare PipelineSpec."""
    if not os.path.isfile(path):
        raise SpecError(f"spec file not found: {path}")
    with open(path) as f:
        text = f.read()
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]  # JSON is YAML too
    except yaml.YAMLError as e:
        raise SpecError(f"{path} is neither YAML nor JSON: {e}") from None
    if not docs or not isinstance(docs[0], dict):
        raise SpecError(f"{path} holds no pipeline spec (expected a PipelineSpec or PipelineJob mapping)")
    doc, is_job = docs[0], "pipelineSpec" in docs[0]
    spec_dict = doc["pipelineSpec"] if is_job else doc
    spec = pb.PipelineSpec()
    try:
        json_format.ParseDict(spec_dict, spec)
        deployment = json_format.ParseDict(
            json_format.MessageToDict(spec.deployment_spec), pb.PipelineDeploymentConfig())
    except json_format.ParseError as e:
        raise SpecError(f"{path} does not parse as a KFP PipelineSpec: {e}") from None
    return CompiledSpec(path, spec, deployment, doc.get("runtimeConfig", {}) if is_job else {}, is_job)


def validate_spec(compiled: CompiledSpec) -> List[str]:
    """Every problem found, as messages naming the task/executor and what to do; [] if none."""
    spec = compiled.spec
    problems = []
    if spec.schema_version not in SUPPORTED_SCHEMAS:
        problems.append(f"schemaVersion is '{spec.schema_version}', expected one of {SUPPORTED_SCHEMAS}")
    elif not compiled.is_job and spec.schema_version != OSS_SCHEMA:
        problems.append(f"schemaVersion {spec.schema_version} in a bare PipelineSpec: open-source KFP "
                        f"accepts only {OSS_SCHEMA}; compile with use_pipeline_spec_2_1=True")
    return problems + structure_problems(compiled)


def structure_problems(compiled: CompiledSpec) -> List[str]:
    """What would stop any backend from running the spec: names, DAG wiring, executors."""
    spec = compiled.spec
    problems = []
    if not spec.pipeline_info.name:
        problems.append("pipelineInfo.name is empty")
    if not spec.root.dag.tasks:
        problems.append("root.dag has no tasks")
    problems += _dag_problems("root", spec.root, spec)
    for name, component in spec.components.items():
        if component.WhichOneof("implementation") == "dag":
            problems += _dag_problems(f"component {name}", component, spec)
    problems += _executor_problems(compiled)
    return problems


def _dag_problems(where: str, owner: pb.ComponentSpec, spec: pb.PipelineSpec) -> List[str]:
    """Component refs, dependencies, input wiring and cycles of one DAG."""
    tasks = owner.dag.tasks
    problems = []
    for name, task in tasks.items():
        ref = task.component_ref.name
        if ref not in spec.components:
            problems.append(f"{where}: task {name} refers to component '{ref}', which is not in components")
        for dep in task.dependent_tasks:
            if dep not in tasks:
                problems.append(f"{where}: task {name} depends on task '{dep}', which is not in the DAG")
        for key, source in task.inputs.artifacts.items():
            problems += _artifact_source_problems(f"{where}: task {name} input '{key}'", source, tasks, spec)
        for key, source in task.inputs.parameters.items():
            param = source.component_input_parameter
            if param and param not in owner.input_definitions.parameters:
                problems.append(f"{where}: task {name} parameter '{key}' reads pipeline input '{param}', "
                                "which is not declared in inputDefinitions")
    cycle = find_cycle({n: _upstream(t) for n, t in tasks.items()})
    if cycle:
        problems.append(f"{where}: the DAG has a cycle: {' -> '.join(cycle)}")
    return problems


def _artifact_source_problems(what: str, source: pb.TaskInputsSpec.InputArtifactSpec,
                              tasks, spec: pb.PipelineSpec) -> List[str]:
    """An input artifact must come from a task of the DAG, from an output that task's component has."""
    if source.WhichOneof("kind") != "task_output_artifact":
        return []
    producer, key = source.task_output_artifact.producer_task, source.task_output_artifact.output_artifact_key
    if producer not in tasks:
        return [f"{what} comes from task '{producer}', which is not in the DAG"]
    component = spec.components.get(tasks[producer].component_ref.name)
    if component is not None and key not in component.output_definitions.artifacts:
        return [f"{what} reads output '{key}' of task {producer}, which has no such output"]
    return []


def _executor_problems(compiled: CompiledSpec) -> List[str]:
    """Each component's executor exists, has an image and a command, and is not a resolver."""
    executors = compiled.deployment.executors
    problems = []
    for name, component in compiled.spec.components.items():
        label = component.executor_label
        if component.WhichOneof("implementation") == "executor_label" and label not in executors:
            problems.append(f"component {name}: executor '{label}' is not in deploymentSpec")
    for label, executor in executors.items():
        kind = executor.WhichOneof("spec")
        if kind == "resolver" or (kind != "container" and "resolver" in label.lower()):
            problems.append(f"executor {label} is a resolver node: open-source KFP v2 does not run "
                            "resolvers; replace the Resolver with an ordinary component "
                            "(see components/baseline/component.py)")
        elif kind == "container":
            if not executor.container.image.strip():
                problems.append(f"executor {label} has no container image: compile with --image")
            if not [c for c in executor.container.command if c.strip()]:
                problems.append(f"executor {label} has no container command: compile with default_commands "
                                "(python -m pipeline.kubeflow.entrypoint)")
            problems += runner_arg_problems(label, executor.container.args)
        elif kind is None:
            problems.append(f"executor {label} is empty (no container, importer or resolver)")
    return problems


def _upstream(task: pb.PipelineTaskSpec) -> List[str]:
    """A task's upstream tasks: its dependentTasks plus the producers of its inputs."""
    producers = [a.task_output_artifact.producer_task for a in task.inputs.artifacts.values()
                 if a.WhichOneof("kind") == "task_output_artifact"]
    producers += [p.task_output_parameter.producer_task for p in task.inputs.parameters.values()
                  if p.WhichOneof("kind") == "task_output_parameter"]
    return list(dict.fromkeys(list(task.dependent_tasks) + producers))


def find_cycle(upstream: Dict[str, List[str]]) -> List[str]:
    """One dependency cycle as [a, b, ..., a], or [] if the graph is acyclic."""
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for up in upstream.get(node, []):
            if state.get(up) == 1:
                return path[path.index(up):] + [up]
            if up in upstream and not state.get(up):
                found = visit(up)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(upstream):
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return []


def topological_order(tasks: Dict[str, pb.PipelineTaskSpec]) -> List[str]:
    """Task names in an order where every task comes after its upstream tasks (ties by name)."""
    upstream = {n: [u for u in _upstream(t) if u in tasks] for n, t in tasks.items()}
    order: List[str] = []
    while len(order) < len(upstream):
        ready = sorted(n for n, ups in upstream.items() if n not in order and all(u in order for u in ups))
        if not ready:
            raise SpecError(f"the DAG has a cycle: {' -> '.join(find_cycle(upstream))}")
        order.extend(ready)
    return order
