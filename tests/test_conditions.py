"""run-spec evaluates the trigger conditions TFX compiles from tfx.dsl.Cond, as the KFP driver would."""
import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline.kubeflow.conditions import condition_holds
from pipeline.kubeflow.spec_check import SpecError

TFX_CONDITION = "(inputs.artifacts['_NewDataCheck.report'].artifacts[0].metadata['new_data']\n    == 1.0)"


def executor_input(metadata=None) -> pb.ExecutorInput:
    given = pb.ExecutorInput()
    if metadata is not None:
        artifact = given.inputs.artifacts["_NewDataCheck.report"].artifacts.add(uri="minio://x")
        json_format.ParseDict(metadata, artifact.metadata)
    return given


@pytest.mark.parametrize("metadata, holds", [({"new_data": 1}, True), ({"new_data": 0}, False),
                                             ({"other": 1}, False), (None, False)])
def test_the_condition_tfx_writes_for_a_cond_on_a_custom_property(metadata, holds):
    assert condition_holds("Trainer", TFX_CONDITION, executor_input(metadata)) is holds


def test_comparisons_and_string_constants():
    given = executor_input({"new_data": 3, "name": "round-3"})
    field = "inputs.artifacts['_NewDataCheck.report'].artifacts[0].metadata"
    assert condition_holds("t", f"{field}['new_data'] >= 2.0", given)
    assert not condition_holds("t", f"{field}['new_data'] < 2.0", given)
    assert condition_holds("t", f"({field}['name'] == 'round-3')", given)
    assert condition_holds("t", f"{field}['name'] != 'round-2'", given)


def test_a_condition_run_spec_cannot_evaluate_is_refused_by_name():
    with pytest.raises(SpecError, match=r"task Trainer: run-spec evaluates trigger conditions of the form .* "
                                        r"not \"inputs.parameter_values\['x'\] == 1.0 && true\""):
        condition_holds("Trainer", "inputs.parameter_values['x'] == 1.0 && true", executor_input({}))
