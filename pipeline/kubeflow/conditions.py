"""Trigger conditions of a compiled spec, evaluated as the KFP driver does, for `imgpipe run-spec`.

TFX compiles `tfx.dsl.Cond` into a task's `trigger_policy.condition`, a CEL expression over the task's
own input artifacts, e.g. `(inputs.artifacts['_NewDataCheck.report'].artifacts[0].metadata['new_data']
== 1.0)` (tfx/orchestration/kubeflow/v2/compiler_utils.py, placeholder_to_cel). The KFP driver
evaluates it before launching the task and skips the task when it is false. run-spec has no CEL
engine: it evaluates the one shape TFX writes for a comparison between an input artifact's metadata
value and a constant, and refuses anything else by name rather than guessing.
"""
from __future__ import annotations

import operator
import re

from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.spec_check import SpecError

_FIELD = r"inputs\.artifacts\['(?P<key>[^']+)'\]\.artifacts\[(?P<index>\d+)\]\.metadata\['(?P<prop>[^']+)'\]"
_VALUE = r"(?P<value>-?\d+(?:\.\d+)?|'[^']*')"
_COMPARISON = re.compile(rf"^\(?\s*{_FIELD}\s*(?P<op>==|!=|<=|>=|<|>)\s*{_VALUE}\s*\)?$")
_OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
              ">": operator.gt, ">=": operator.ge}


def condition_holds(task: str, condition: str, executor_input: pb.ExecutorInput) -> bool:
    """True when the task should run. Raises SpecError for a condition run-spec cannot evaluate."""
    match = _COMPARISON.match(" ".join(condition.split()))
    if not match:
        raise SpecError(f"task {task}: run-spec evaluates trigger conditions of the form "
                        f"inputs.artifacts['KEY'].artifacts[0].metadata['NAME'] <op> CONSTANT only, not {condition!r}")
    key, index, prop = match["key"], int(match["index"]), match["prop"]
    artifacts = executor_input.inputs.artifacts[key].artifacts if key in executor_input.inputs.artifacts else []
    if index >= len(artifacts) or prop not in artifacts[index].metadata:
        return False  # as in CEL, a missing value makes the condition an error, and the driver does not run the task
    actual = artifacts[index].metadata[prop]
    expected = match["value"]
    if expected.startswith("'"):
        return _OPERATORS[match["op"]](str(actual), expected[1:-1])
    return isinstance(actual, (int, float)) and _OPERATORS[match["op"]](float(actual), float(expected))
