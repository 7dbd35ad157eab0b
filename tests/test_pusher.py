"""AtomicPushExecutor with real TFX artifacts and a real SavedModel: blessings, versions, retention."""
import json
import os
import shutil

import pytest
from tfx.types import standard_artifacts, standard_component_specs as keys
from tfx.proto import pusher_pb2
from tfx.utils import proto_utils

from components.pusher.component import AtomicPushExecutor
from components.pusher.spec import SETTINGS_KEY, PusherSettings
from schemas import carrier
from components.pusher.publish import served_versions
from tests.test_publish import save_tiny_model


@pytest.fixture(scope="module")
def model_artifact(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    save_tiny_model(str(root / "Format-Serving"), mb=1)
    model = standard_artifacts.Model()
    model.uri = str(root)
    return model


def blessing(kind, blessed: int):
    artifact = kind()
    artifact.set_int_custom_property("blessed", blessed)
    return artifact


def push(model, model_dir: str, tmp_path, infra_blessed: int, keep: int = 2):
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{len(os.listdir(tmp_path))}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=model_dir))
    AtomicPushExecutor().Do(
        {keys.MODEL_KEY: [model], keys.MODEL_BLESSING_KEY: [blessing(standard_artifacts.ModelBlessing, 1)],
         keys.INFRA_BLESSING_KEY: [blessing(standard_artifacts.InfraBlessing, infra_blessed)]},
        {keys.PUSHED_MODEL_KEY: [pushed]},
        {keys.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination),
         keys.CUSTOM_CONFIG_KEY: json.dumps({SETTINGS_KEY: carrier.to_json(PusherSettings(model_name="m", keep_versions=keep))})})
    return pushed


def test_a_failed_infra_check_blocks_the_push(model_artifact, tmp_path):
    model_dir = str(tmp_path.parent / "blocked" / "m")
    pushed = push(model_artifact, model_dir, tmp_path, infra_blessed=0)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not os.path.exists(model_dir)


def retrained(model, tmp_path, run: int):
    """A copy of `model` with one file changed: another training's model, as the Pusher sees it."""
    copy = standard_artifacts.Model()
    copy.uri = str(tmp_path / f"model-{run}")
    shutil.copytree(model.uri, copy.uri)
    with open(os.path.join(copy.uri, "Format-Serving", "run.txt"), "w") as f:
        f.write(str(run))
    return copy


def test_pushes_publish_new_versions_keep_the_newest_and_label_them(model_artifact, tmp_path):
    model_dir = str(tmp_path.parent / "served" / "m")
    destinations = [push(retrained(model_artifact, tmp_path, run), model_dir, tmp_path, 1)
                    .get_string_custom_property("pushed_destination") for run in range(3)]
    versions = [int(os.path.basename(d)) for d in destinations]
    assert versions == sorted(set(versions))  # three distinct, increasing versions even within a second
    assert served_versions(model_dir) == versions[1:]  # keep_versions=2 pruned the oldest
    assert sorted(os.listdir(model_dir)) == sorted([str(v) for v in versions[1:]] + ["models.config"])
    assert f'key: "stable" value: {versions[2]}' in open(os.path.join(model_dir, "models.config")).read()


def test_a_candidate_identical_to_the_served_model_is_not_pushed_again(model_artifact, tmp_path):
    """A cached re-run blesses the model it reused, which is the served one: no duplicate version."""
    model_dir = str(tmp_path.parent / "same" / "m")
    first = push(model_artifact, model_dir, tmp_path, 1).get_string_custom_property("pushed_destination")
    again = push(model_artifact, model_dir, tmp_path, 1)
    assert again.get_int_custom_property("pushed") == 0
    assert again.get_string_custom_property("already_served") == first
    assert served_versions(model_dir) == [int(os.path.basename(first))]
    changed = push(retrained(model_artifact, tmp_path, 1), model_dir, tmp_path, 1)
    assert changed.get_int_custom_property("pushed") == 1 and len(served_versions(model_dir)) == 2


def test_an_empty_newer_version_folder_does_not_hide_the_served_model(model_artifact, tmp_path):
    """The dedup check and the baseline agree on which version is served: the newest holding a SavedModel."""
    model_dir = str(tmp_path.parent / "stray" / "m")
    first = push(model_artifact, model_dir, tmp_path, 1).get_string_custom_property("pushed_destination")
    os.makedirs(os.path.join(model_dir, str(int(os.path.basename(first)) + 5)))  # e.g. a hand-made folder
    again = push(model_artifact, model_dir, tmp_path, 1)
    assert again.get_int_custom_property("pushed") == 0
    assert again.get_string_custom_property("already_served") == first
