"""Warmup records and the infra check, on real SavedModels loaded in fresh processes."""
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from components.infra_check.check import check_candidate, judge, replay_in_fresh_process
from components.trainer.warmup import ASSETS_EXTRA, WARMUP_FILE, read_expected, read_warmup
from pipeline.history.summary import RunSummary, format_summary
from schemas import features
from tests.serving_fixtures import class_list, save_colour_model

ATOL = 1e-4


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return save_colour_model(str(tmp_path_factory.mktemp("good") / "model"))


def test_warmup_records_are_tf_serving_prediction_logs_for_both_signatures(good_model):
    path = os.path.join(good_model, ASSETS_EXTRA, WARMUP_FILE)
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset([path])]
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"] * 6
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == \
        [features.EXAMPLES_SIGNATURE, features.BYTES_SIGNATURE] * 3
    by_bytes = logs[1].predict_log.request.inputs[features.BYTES_INPUT]
    assert by_bytes.dtype == tf.string.as_datatype_enum and by_bytes.string_val[0].startswith(b"\x89PNG")


def test_replayed_warmup_answers_what_the_model_was_recorded_to_answer(good_model):
    loaded = tf.saved_model.load(good_model)
    expected = read_expected(good_model)
    answers = {features.EXAMPLES_SIGNATURE: [], features.BYTES_SIGNATURE: []}
    for signature, inputs in read_warmup(good_model):
        out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        answers[signature].append(out[features.PROBABILITIES_OUTPUT].numpy()[0])
        answers[signature][-1] = (answers[signature][-1], out[features.CLASS_NAME_OUTPUT].numpy()[0])
    for signature, rows in answers.items():
        np.testing.assert_allclose([p for p, _ in rows], expected, atol=1e-6)
        assert [name for _, name in rows] == [b"red", b"green", b"blue"]


@pytest.fixture(scope="module")
def good_replay(good_model):
    return replay_in_fresh_process(good_model)


def test_a_good_export_passes_with_load_time_and_latencies(good_model, good_replay):
    report = judge(good_model, good_replay, class_list(), ATOL)
    assert report["problems"] == [] and report["blessed"] is True
    assert report["load_seconds"] > 0 and report["requests"] == 6
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_max"]


def test_served_class_names_must_equal_the_ingested_list_byte_for_byte(good_model, good_replay):
    report = judge(good_model, good_replay, class_list(["rouge", "green", "blue"]), ATOL)
    assert report["blessed"] is False
    assert report["problems"][0] == ("served class names [b'red', b'green', b'blue'] differ from the ingested "
                                     "class list [b'rouge', b'green', b'blue']")
    assert f"{features.EXAMPLES_SIGNATURE} answered class_name b'red' for class_id 0" in report["problems"]


def test_a_broken_export_is_not_blessed_and_each_fault_is_named(tmp_path):
    """Skewed answers, a missing signature and a 4-line labels.txt (a class name split by a newline)."""
    model = save_colour_model(str(tmp_path / "model"), classes=["red", "green", "blue", "cle"],
                              with_bytes_signature=False, skew=0.05)
    report = check_candidate(model, class_list(), ATOL)
    assert report["blessed"] is False
    problems = "\n".join(report["problems"])
    assert "served class names [b'red', b'green', b'blue', b'cle'] differ" in problems
    assert f"signature {features.BYTES_SIGNATURE} is missing" in problems
    assert f"warmup request for {features.BYTES_SIGNATURE}: no such signature" in problems
    assert re.search(f"{features.EXAMPLES_SIGNATURE} request 0: probabilities differ from the trained "
                     "model's by 0.05 .*training/serving skew", problems)
    lines = format_summary(RunSummary(infra_check=report, blessed=True)).splitlines()
    assert lines[-4] == "Infra check: FAILED, nothing pushed: " + "; ".join(report["problems"])
    assert lines[-1] == "Pushed model: none"


def test_an_export_that_does_not_load_is_not_blessed(tmp_path):
    model = save_colour_model(str(tmp_path / "model"))
    for name in os.listdir(os.path.join(model, "variables")):
        with open(os.path.join(model, "variables", name), "wb") as f:
            f.write(b"truncated")
    report = check_candidate(model, class_list(), ATOL)
    assert report["blessed"] is False and report["load_seconds"] is None
    assert report["problems"] == [report["problems"][0]]
    assert report["problems"][0].startswith("the candidate does not load and answer in a fresh process: exit code 1")


def test_hostile_requests_are_refused_by_the_guard_through_both_signatures(good_replay):
    hostile = good_replay["hostile"]
    assert [(r["signature"], r["what"]) for r in hostile] == [
        (features.EXAMPLES_SIGNATURE, "a PNG declaring 32768x32768 pixels"),
        (features.BYTES_SIGNATURE, "a PNG declaring 32768x32768 pixels"),
        (features.EXAMPLES_SIGNATURE, "1 KB of garbage bytes"), (features.BYTES_SIGNATURE, "1 KB of garbage bytes")]
    assert all("request refused: image 0 declares" in r["error"] and r["seconds"] < 5 for r in hostile)


def test_a_model_that_decodes_a_bomb_or_garbage_is_not_pushed(tmp_path):
    """An export without the serving guard (as before issue 25): its decoder meets the bomb and the garbage."""
    report = check_candidate(save_colour_model(str(tmp_path / "model"), guarded=False), class_list(), ATOL)
    assert report["blessed"] is False
    assert len(report["problems"]) == 4, report["problems"]
    assert report["problems"][0].startswith(
        f"{features.EXAMPLES_SIGNATURE} did not refuse a PNG declaring 32768x32768 pixels before decoding it (")
    assert "PNG size too large for int: 32768 by 32768" in report["problems"][0]
    assert report["problems"][3].startswith(
        f"{features.BYTES_SIGNATURE} did not refuse 1 KB of garbage bytes before decoding it (")
