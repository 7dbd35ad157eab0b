"""One run as ML Metadata recorded it: each component's time, state, properties and outputs.

The summary, the HTML report and `imgpipe runs` all read runs through here, so
they describe what the orchestrator recorded, whichever runner ran the pipeline.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

from google.protobuf import json_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

_STATES = {v: k.lower() for k, v in metadata_store_pb2.Execution.State.items()}
_TFX_SINGLE_VALUE_KEY = "__value__"  # how tfx.types.artifact wraps a non-dict value in a struct
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


@dataclasses.dataclass
class NodeRun:
    """One component's execution in a run."""
    node: str
    execution_id: int
    seconds: float
    state: str
    started_ms: int
    properties: Dict[str, Any]                    # its exec properties, as MLMD stored them
    outputs: List[metadata_store_pb2.Artifact]    # its output artifacts
    output_types: List[str]                       # type name of each output, same order


@dataclasses.dataclass
class RunRecord:
    run_id: str
    pipeline_name: str
    nodes: List[NodeRun]

    def node(self, name: str) -> Optional[NodeRun]:
        return next((n for n in self.nodes if n.node == name), None)

    def outputs(self, node: str, type_name: str = "") -> List[metadata_store_pb2.Artifact]:
        """Output artifacts of `node` (of type `type_name` if given); none if it did not run."""
        run = self.node(node)
        if run is None:
            return []
        return [a for a, t in zip(run.outputs, run.output_types) if not type_name or t == type_name]

    @property
    def stopped_at(self) -> str:
        """The first component that did not complete ("" when every one did)."""
        return next((n.node for n in self.nodes if n.state not in ("complete", "cached")), "")

    @property
    def started_ms(self) -> int:
        return min((n.started_ms for n in self.nodes), default=0)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def list_run_ids(store, pipeline_name: str) -> List[str]:
    """Run ids of `pipeline_name`, oldest first."""
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return []
    first_seen: Dict[str, int] = {}
    for execution in store.get_executions_by_context(pipeline.id):
        for context in store.get_contexts_by_execution(execution.id):
            if context.type == "pipeline_run":
                first_seen[context.name] = min(first_seen.get(context.name, execution.create_time_since_epoch),
                                               execution.create_time_since_epoch)
    return sorted(first_seen, key=first_seen.get)


def read_run_record(store, pipeline_name: str, run_id: str = "") -> Optional[RunRecord]:
    """The run `run_id` (default: the newest) of `pipeline_name`, or None if none is recorded."""
    run_ids = list_run_ids(store, pipeline_name)
    if not run_ids or (run_id and run_id not in run_ids):
        return None
    run_id = run_id or run_ids[-1]
    context = store.get_context_by_type_and_name("pipeline_run", run_id)
    type_names = {t.id: t.name for t in store.get_artifact_types()}
    nodes = []
    for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.create_time_since_epoch):
        outputs = _output_artifacts(store, execution.id)
        nodes.append(NodeRun(
            node=_node_id(store, execution, pipeline_name), execution_id=execution.id,
            seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000,
            state=_STATES.get(execution.last_known_state, "?"),
            started_ms=execution.create_time_since_epoch,
            properties={k: value_of(v) for k, v in execution.custom_properties.items()},
            outputs=outputs, output_types=[type_names.get(a.type_id, "") for a in outputs]))
    return RunRecord(run_id, pipeline_name, nodes)


def _node_id(store, execution, pipeline_name: str) -> str:
    prefix = pipeline_name + "."
    for context in store.get_contexts_by_execution(execution.id):
        if context.type == "node":
            return context.name[len(prefix):] if context.name.startswith(prefix) else context.name
    return execution.type


def _output_artifacts(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    ids = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id]) if e.type in _OUTPUT_EVENTS]
    return store.get_artifacts_by_id(ids) if ids else []


def value_of(value: metadata_store_pb2.Value) -> Any:
    """A property's plain value. Inside a Kubeflow task, TFX's entrypoint hands input artifacts' metadata
    over as struct values (a number or string wrapped as {"__value__": v}): unwrapped here."""
    kind = value.WhichOneof("value")
    if kind == "struct_value":
        decoded = json_format.MessageToDict(value.struct_value)
        return decoded.get(_TFX_SINGLE_VALUE_KEY, decoded)
    return getattr(value, kind) if kind in ("int_value", "double_value", "string_value", "bool_value") else None


def artifact_property(artifact: metadata_store_pb2.Artifact, key: str) -> Any:
    """A property or custom property of `artifact` (None if it has neither)."""
    for table in (artifact.properties, artifact.custom_properties):
        if key in table:
            return value_of(table[key])
    return None
