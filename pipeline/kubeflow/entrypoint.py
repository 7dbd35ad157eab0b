"""Container entrypoint of the compiled Kubeflow spec: TFX's own, made to work on open-source KFP v2.

The compiled spec runs `python -m pipeline.kubeflow.entrypoint <args>` (through
`default_commands`) with exactly the arguments TFX's stock entrypoint
`tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor` takes. Two things
the open-source backend does differently from Vertex AI crash the stock one:

1. Upstream artifacts arrive with an empty type schema, and TFX finds the Python
   artifact class from that schema. We fill it from the task's inputs spec
   (`--json_serialized_inputs_spec_args`, compiled into the spec by TFX).
2. Artifact URIs are `minio://...` / `s3://...` (or `gs://...`), which tf.io.gfile
   and Beam cannot open, while the KFP launcher mirrors each artifact at a local
   path (`/minio/<bucket>/...`, `/s3/...`, `/gcs/...`) and syncs it with the store.
   We hand the executor the local paths and put the remote URIs back into the
   executor output the launcher reads.

On every backend, a custom artifact type (e.g. `imgpipe.ImageValidation`) is also
resolved to its class, which the stock entrypoint tries to import by its type name.

Everything else (parsing, running the executor, writing the executor output) is
TFX's `kubeflow_v2_run_executor`, called in-process.
"""
import importlib
import os
import sys
from typing import Optional

import yaml
from absl import app, logging
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as stock
from tfx.types.artifact import Artifact  # not tfx.v1: it adds ~3 s of imports to every task's start
from tfx.utils import import_utils

from pipeline.kubeflow.mirrors import mirror_root, to_local, to_remote

CONDITION_TYPES_MODULE = "components.new_data.component"  # NewDataReport, the input every Cond'ed task gets


class EntrypointError(ValueError):
    """The executor input cannot be repaired; the message says which artifact and why."""


def fill_empty_types(executor_input: pipeline_spec_pb2.ExecutorInput,
                     inputs_spec: Optional[pipeline_spec_pb2.ComponentInputsSpec]) -> int:
    """Give every input artifact without a type schema the type its task declares.

    Returns how many were filled. TFX picks the artifact class (and so how the
    artifact's properties are read) from this schema.
    """
    filled = 0
    for key, artifact_list in executor_input.inputs.artifacts.items():
        for artifact in artifact_list.artifacts:
            if artifact.type.WhichOneof("kind"):
                continue
            if inputs_spec is None or key not in inputs_spec.artifacts:
                raise EntrypointError(
                    f"input artifact '{key}' ({artifact.uri}) has no type schema and the task passed "
                    "no --json_serialized_inputs_spec_args declaring it: recompile the pipeline with "
                    "PipelineSpec 2.1 (imgpipe compile --target kfp)")
            artifact.type.CopyFrom(inputs_spec.artifacts[key].artifact_type)
            filled += 1
    return filled


def resolve_custom_types(executor_input: pipeline_spec_pb2.ExecutorInput, executor_class_path: str) -> int:
    """Point custom artifact type titles at their classes' import paths; returns how many changed.

    TFX's compiler requires a custom type's TYPE_NAME to look like `namespace.TypeName`,
    and TFX's entrypoint imports that title as a class path, so the two only agree when
    a top-level module `namespace` exports the class. The executor's module defines (or
    imports) the types it reads and writes: find them there by TYPE_NAME instead. Tasks inside
    the pipeline's Cond also receive NewDataCheck's report (the condition reads it), whose type
    their own modules do not import: CONDITION_TYPES_MODULE is imported for it.
    """
    import_utils.import_class_by_path(executor_class_path)
    importlib.import_module(CONDITION_TYPES_MODULE)
    by_type_name = {cls.TYPE_NAME: f"{cls.__module__}.{cls.__qualname__}" for cls in _artifact_classes()}
    changed = 0
    for side in (executor_input.inputs, executor_input.outputs):
        for artifact_list in side.artifacts.values():
            for artifact in artifact_list.artifacts:
                changed += _retitle(artifact.type, by_type_name)
    return changed


def _artifact_classes():
    pending, seen = [Artifact], set()
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.add(cls)
            pending.extend(cls.__subclasses__())
    return [cls for cls in seen if getattr(cls, "TYPE_NAME", None)]


def _retitle(schema: pipeline_spec_pb2.ArtifactTypeSchema, by_type_name: dict) -> int:
    """Rewrite one schema's title to a class path if it is a custom type name that does not import."""
    kind = schema.WhichOneof("kind")
    if kind == "schema_title":
        title = schema.schema_title
    elif kind == "instance_schema":
        document = yaml.safe_load(schema.instance_schema) or {}
        title = document.get("title", "")
    else:
        return 0
    if title in compiler_utils.TITLE_TO_CLASS_PATH or title not in by_type_name or _imports(title):
        return 0
    if kind == "schema_title":
        schema.schema_title = by_type_name[title]
    else:
        schema.instance_schema = yaml.safe_dump(dict(document, title=by_type_name[title]), sort_keys=False)
    return 1


def _imports(class_path: str) -> bool:
    try:
        import_utils.import_class_by_path(class_path)
        return True
    except ImportError:
        return False


def map_uris_to_local(executor_input: pipeline_spec_pb2.ExecutorInput) -> int:
    """Point every artifact at its local mirror (creating output parents); returns how many moved."""
    mapped = 0
    for side in (executor_input.inputs, executor_input.outputs):
        for artifact_list in side.artifacts.values():
            for artifact in artifact_list.artifacts:
                local = to_local(artifact.uri)
                if local != artifact.uri:
                    os.makedirs(os.path.dirname(local), exist_ok=True)
                    artifact.uri = local
                    mapped += 1
    return mapped


def map_output_uris_back(output_file: str) -> None:
    """Rewrite mirror paths in the executor output (URIs, string metadata) to remote URIs."""
    if not os.path.isfile(output_file):
        return
    with open(output_file, "rb") as f:
        output = json_format.Parse(f.read(), pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=True)
    for artifact_list in output.artifacts.values():
        for artifact in artifact_list.artifacts:
            artifact.uri = to_remote(artifact.uri)
            for value in artifact.metadata.fields.values():
                if value.WhichOneof("kind") == "string_value":
                    value.string_value = to_remote(value.string_value)
    with open(output_file, "w") as f:
        f.write(json_format.MessageToJson(output))


def check_executor_class(executor_class_path: str) -> None:
    """A spec compiled by another imgpipe version names executors this image does not have (code moves
    between versions): say so in one line instead of failing deep inside TFX."""
    try:
        import_utils.import_class_by_path(executor_class_path)
    except (ImportError, AttributeError):
        raise EntrypointError(
            f"this pipeline spec runs {executor_class_path}, which this image's imgpipe does not have: the spec "
            "was compiled by another imgpipe version. Recompile it with this image's `imgpipe compile ...` "
            "and upload the new spec.") from None


def run(parsed_argv) -> None:
    """Repair the executor input, run TFX's entrypoint on it, map the output back."""
    args, beam_args = parsed_argv
    check_executor_class(args.executor_class_path)
    executor_input = json_format.Parse(
        args.json_serialized_invocation_args, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True)
    inputs_spec = None
    if getattr(args, "json_serialized_inputs_spec_args", None):
        inputs_spec = json_format.Parse(
            args.json_serialized_inputs_spec_args, pipeline_spec_pb2.ComponentInputsSpec(),
            ignore_unknown_fields=True)
    filled = fill_empty_types(executor_input, inputs_spec)
    retitled = resolve_custom_types(executor_input, args.executor_class_path)
    mapped = map_uris_to_local(executor_input)
    logging.info("entrypoint: filled %d empty artifact type(s), resolved %d custom type(s), mapped "
                 "%d artifact URI(s) to the local mirrors under %s", filled, retitled, mapped, mirror_root())
    args.json_serialized_invocation_args = json_format.MessageToJson(executor_input)
    stock.main((args, beam_args))
    map_output_uris_back(executor_input.outputs.output_file)


def _run_or_explain(parsed_argv) -> None:
    try:
        run(parsed_argv)
    except EntrypointError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    # TFX's own flag parser: the same arguments, the unknown rest are Beam args.
    app.run(_run_or_explain, flags_parser=stock._parse_flags)  # pylint: disable=protected-access


if __name__ == "__main__":
    main()
