"""Publishing versions where TF Serving watches: atomic, pruned, rolled back, on real SavedModels."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import tensorflow as tf

from components.pusher.models_config import MODELS_CONFIG_FILE, write_models_config
from components.pusher.publish import (PublishError, next_version, prune, publish, rolled_back_versions,
                                       served_versions)
from components.pusher.rollback import rollback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_tiny_model(path: str, scale: float = 2.0, mb: int = 2) -> str:
    """A real SavedModel with a few MB of variables, so a copy takes long enough to be interrupted."""
    module = tf.Module()
    module.scale = tf.Variable(scale)
    module.ballast = [tf.Variable(tf.zeros([mb * 2**18])) for _ in range(4)]
    module.f = tf.function(lambda x: x * module.scale, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(str(tmp_path_factory.mktemp("model") / "saved"))


def assert_every_version_loads(model_dir: str) -> int:
    for version in served_versions(model_dir):
        loaded = tf.saved_model.load(os.path.join(model_dir, str(version)))
        assert float(loaded.f(tf.constant([1.0]))[0]) == 2.0
    return len(served_versions(model_dir))


PUSH_LOOP = textwrap.dedent("""
    import sys
    from components.pusher.publish import next_version, prune, publish
    source, model_dir = sys.argv[1:3]
    print("ready", flush=True)
    while True:
        publish(source, model_dir, next_version(model_dir))
        prune(model_dir, 2)
""")


def test_a_push_killed_at_random_moments_never_leaves_a_half_version(tiny_model, tmp_path):
    model_dir = str(tmp_path / "serving" / "m")
    rng = random.Random(8)
    started, kills, staging_seen = time.monotonic(), 0, 0
    while kills < 24:
        proc = subprocess.Popen([sys.executable, "-c", PUSH_LOOP, tiny_model, model_dir], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        staging_seen += any(n.startswith(".staging-") for n in os.listdir(model_dir))
        assert all(n.isdigit() or n.startswith((".staging-", ".pruned-")) for n in os.listdir(model_dir))
        assert_every_version_loads(model_dir)
    assert staging_seen >= 5, "the kills should land mid-copy often; make the ballast bigger"
    final = publish(tiny_model, model_dir, next_version(model_dir))
    assert [n for n in os.listdir(model_dir) if not n.isdigit()] == []  # leftovers cleaned by the re-run
    assert served_versions(model_dir)[-1] == int(os.path.basename(final))
    assert assert_every_version_loads(model_dir) >= 1
    assert time.monotonic() - started < 60


def test_versions_always_increase_even_within_one_second(tiny_model, tmp_path):
    model_dir = str(tmp_path / "m")
    first = publish(tiny_model, model_dir, next_version(model_dir, now=1000))
    second = publish(tiny_model, model_dir, next_version(model_dir, now=1000))
    assert [os.path.basename(first), os.path.basename(second)] == ["1000", "1001"]
    with pytest.raises(PublishError, match="1001 already exists"):
        publish(tiny_model, model_dir, 1001)
    with pytest.raises(PublishError, match="no saved_model.pb in"):
        publish(str(tmp_path), model_dir, 2000)


def test_retention_keeps_the_newest_versions_and_deletes_the_oldest(tiny_model, tmp_path):
    model_dir = str(tmp_path / "m")
    for v in (10, 11, 12, 13):
        publish(tiny_model, model_dir, v)
    assert prune(model_dir, 2) == [10, 11]
    assert served_versions(model_dir) == [12, 13]
    assert prune(model_dir, 5) == []
    assert sorted(os.listdir(model_dir)) == ["12", "13"]


def test_rollback_hides_newer_versions_and_restore_brings_them_back(tiny_model, tmp_path):
    model_dir = str(tmp_path / "m")
    for v in (10, 11, 12):
        publish(tiny_model, model_dir, v)
    result = rollback(model_dir)
    assert (result.latest, result.hidden) == (11, [12])
    assert served_versions(model_dir) == [10, 11] and rolled_back_versions(model_dir) == [12]
    result = rollback(model_dir, to=10)
    assert served_versions(model_dir) == [10] and rolled_back_versions(model_dir) == [11, 12]
    from components.pusher.publish import latest_served_version  # the baseline's and the nothing-new check's choice
    assert latest_served_version(model_dir) == f"{model_dir}/10"  # the next run's baseline
    assert next_version(model_dir, now=5) == 13  # a new push outranks rolled-back versions
    result = rollback(model_dir, to=11)  # forward again, to a rolled-back version
    assert (result.latest, result.restored) == (11, [11]) and served_versions(model_dir) == [10, 11]
    result = rollback(model_dir, restore=True)
    assert result.latest == 12 and served_versions(model_dir) == [10, 11, 12]
    assert rolled_back_versions(model_dir) == []
    assert_every_version_loads(model_dir)


def test_rollback_refuses_a_bad_version_or_an_empty_folder(tiny_model, tmp_path):
    model_dir = str(tmp_path / "m")
    with pytest.raises(PublishError, match=f"no pushed versions in {model_dir}"):
        rollback(model_dir)
    publish(tiny_model, model_dir, 10)
    with pytest.raises(PublishError, match="only 1 served version"):
        rollback(model_dir)
    with pytest.raises(PublishError, match="version 9 is not in .*; versions there: 10"):
        rollback(model_dir, to=9)
    assert served_versions(model_dir) == [10]


def test_models_config_labels_the_newest_version_stable(tiny_model, tmp_path):
    model_dir = str(tmp_path / "m")
    for v in (10, 11, 12):
        publish(tiny_model, model_dir, v)
    text = open(write_models_config(model_dir, "m")).read()
    assert 'base_path: "/models/m"' in text
    assert "specific { versions: 11 versions: 12 }" in text
    assert 'key: "stable" value: 12' in text and 'key: "previous" value: 11' in text
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2
    parsed = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    assert dict(parsed.model_config_list.config[0].version_labels) == {"stable": 12, "previous": 11}
    assert os.path.basename(write_models_config(model_dir, "m")) == MODELS_CONFIG_FILE
