"""A batch already judged against the served model with the same settings, and not blessed, is not trained
on again: NewDataCheck records the batch being judged, the Pusher records the verdict (both real
executors, real artifacts), and the next check, in the pipeline or before `imgpipe run` starts, stops.
"""
import json
import os
import subprocess
import sys
import time

from tfx.types import standard_artifacts, standard_component_specs as keys
from tfx.proto import pusher_pb2
from tfx.utils import proto_utils

from components.new_data.check import nothing_new
from components.new_data.component import NewDataCheck, NewDataReport
from components.new_data.judged import JUDGED_FILE, PENDING_FILE, settings_token
from components.new_data.spec import MESSAGE_PROPERTY, NEW_DATA_PROPERTY
from components.image_example_gen.spans import select_window
from components.pusher.component import AtomicPushExecutor
from components.pusher.spec import SETTINGS_KEY, PusherSettings
from schemas import carrier
from schemas.config import build_config
from tests.fixtures import make_span_folders
from tests.test_publish import save_tiny_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATTERN = "round-{SPAN}"
OVERRIDES = [f"data.span_pattern={PATTERN}", "train.epochs=3"]


def check(data_root, model_dir, settings, span=-1):
    """NewDataCheck's own executor, as LocalDagRunner or the Kubeflow entrypoint runs it."""
    component = NewDataCheck(data_root=data_root, span_pattern=PATTERN, serving_model_dir=model_dir, span=span,
                             settings=settings)
    report = NewDataReport()
    report.uri = os.path.join(os.path.dirname(model_dir), f"report-{time.monotonic_ns()}")
    component.executor_spec.executor_class().Do({}, {"report": [report]}, dict(component.exec_properties))
    return report.get_int_custom_property(NEW_DATA_PROPERTY), report.get_string_custom_property(MESSAGE_PROPERTY)


def push(model_dir, tmp_path, blessed, infra_blessed=1):
    """The Pusher's own executor after the gate's verdict; a fresh tiny SavedModel each time."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / f"model-{time.monotonic_ns()}")
    save_tiny_model(os.path.join(model.uri, "Format-Serving"), scale=float(time.monotonic_ns() % 997), mb=1)
    blessings = []
    for kind, value in ((standard_artifacts.ModelBlessing, blessed), (standard_artifacts.InfraBlessing, infra_blessed)):
        blessings.append(kind())
        blessings[-1].set_int_custom_property("blessed", value)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{time.monotonic_ns()}")
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=model_dir))
    AtomicPushExecutor().Do(
        {keys.MODEL_KEY: [model], keys.MODEL_BLESSING_KEY: blessings[:1], keys.INFRA_BLESSING_KEY: blessings[1:]},
        {keys.PUSHED_MODEL_KEY: [pushed]},
        {keys.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination),
         keys.CUSTOM_CONFIG_KEY: json.dumps({SETTINGS_KEY: carrier.to_json(PusherSettings("m", 5))})})
    return pushed.get_string_custom_property("pushed_version")


def test_a_rejected_batch_stops_the_next_run_until_data_settings_or_the_served_model_change(tmp_path):
    data = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2"], per_class=5, size=8)
    model_dir = str(tmp_path / "out" / "serving" / "image_classifier")
    settings = settings_token(build_config(overrides=OVERRIDES))
    served = push(model_dir, tmp_path, blessed=1)  # a model without recorded spans: it was trained on none
    assert check(data, model_dir, settings) == (1, "")  # round-2 is new: the run goes on ...
    assert os.path.isfile(os.path.join(model_dir, PENDING_FILE))  # ... and its batch is being judged
    assert push(model_dir, tmp_path, blessed=0) == ""  # the gate said no
    assert not os.path.exists(os.path.join(model_dir, PENDING_FILE))

    new_data, message = check(data, model_dir, settings)
    assert new_data == 0 and message.startswith("No new data since span 2 (judged ")
    assert message.endswith(f": not blessed; served: version {served})")
    newest = select_window(data, PATTERN, 1)
    assert nothing_new(newest, model_dir, data, settings) == message  # `imgpipe run`'s own pre-flight
    assert check(data, model_dir, settings, span=2)[0] == 1  # --span N always trains

    other = settings_token(build_config(overrides=OVERRIDES + ["train.learning_rate=0.001"]))
    assert nothing_new(newest, model_dir, data, other) == ""  # a changed config trains again
    assert settings_token(build_config(overrides=OVERRIDES + ["run.enable_cache=false"])) == settings  # how, not what
    with open(os.path.join(data, "round-2", "red", "late.png"), "wb") as f:
        f.write(b"an image that arrived late")
    assert nothing_new(newest, model_dir, data, settings) == ""  # a changed batch trains again
    assert nothing_new(select_window(data, PATTERN, 1), model_dir, data, settings) == ""
    push(model_dir, tmp_path, blessed=1)  # a new served model (a push, or a rollback) answers for it now
    assert not os.path.exists(os.path.join(model_dir, JUDGED_FILE))
    assert nothing_new(newest, model_dir, data, settings) == ""


def test_a_failed_infra_check_is_a_verdict_too(tmp_path):
    data = make_span_folders(str(tmp_path / "data"), ["round-1"], per_class=5, size=8)
    model_dir = str(tmp_path / "serving" / "m")
    settings = settings_token(build_config(overrides=OVERRIDES))
    assert check(data, model_dir, settings) == (1, "")
    push(model_dir, tmp_path, blessed=1, infra_blessed=0)
    assert check(data, model_dir, settings)[1].endswith(": infra check failed; served: none)")


def test_imgpipe_run_stops_in_two_seconds_on_a_judged_batch(tmp_path):
    data = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2"], per_class=5, size=8)
    output = str(tmp_path / "out")
    model_dir = os.path.join(output, "serving", "image_classifier")
    assert check(data, model_dir, settings_token(build_config(overrides=OVERRIDES)))[0] == 1
    push(model_dir, tmp_path, blessed=0)
    args = [sys.executable, "-m", "pipeline", "run", "--data", data, "--output", output]
    started = time.monotonic()
    result = subprocess.run(args + [a for o in OVERRIDES for a in ("--set", o)], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "No new data since span 2 (judged " in result.stdout and \
        ": not blessed; served: none): nothing to train on, nothing pushed." in result.stdout
    assert elapsed <= 2.5 and "Running pipeline" not in result.stdout, elapsed  # 2 s, and a little for the CI box
