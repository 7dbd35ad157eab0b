"""The Trainer's user code around the model: which distribution strategy it picks, and the step cap
that `--param train_steps=N` sets (components/trainer/distribution.py, train.py)."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("tf_config, gpus, kind", [
    (None, 0, "default"), (None, 1, "default"), (None, 2, "mirrored"),
    ('{"cluster": {"worker": ["w0:2222"]}, "task": {"type": "worker", "index": 0}}', 0, "default"),
    ('{"cluster": {"chief": ["c:2222"], "worker": ["w0:2222"]}, "task": {"type": "chief", "index": 0}}',
     0, "multi_worker"),
    ('{"cluster": {"worker": ["w0:2222", "w1:2222"]}, "task": {"type": "worker", "index": 1}}', 4,
     "multi_worker"),
])
def test_distribution_strategy_choice(tf_config, gpus, kind):
    from components.trainer.distribution import strategy_kind
    assert strategy_kind(tf_config, gpus) == kind


def test_strategy_follows_tf_config_in_a_fresh_process():
    """TF reads TF_CONFIG from the environment at start: check the real environment path."""
    code = ("import os; from components.trainer.distribution import strategy_kind, make_strategy; "
            "print(strategy_kind(os.environ.get('TF_CONFIG'), 0)); "
            "print(type(make_strategy()).__name__ if 'TF_CONFIG' not in os.environ else '-')")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    alone = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=120)
    assert alone.stdout.split() == ["default", "_DefaultDistributionStrategy"], alone.stderr[-2000:]
    env["TF_CONFIG"] = json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2"]},
                                   "task": {"type": "worker", "index": 0}})
    cluster = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=60)
    assert cluster.stdout.split() == ["multi_worker", "-"], cluster.stderr[-2000:]


def test_train_steps_cap_stops_training_across_epochs():
    import numpy as np
    import tf_keras as keras

    from components.trainer.train import StopAfterSteps

    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(np.zeros((40, 2)), np.zeros((40, 1)), batch_size=4, epochs=5, verbose=0,
              callbacks=[StopAfterSteps(13), count])
    assert len(seen) == 13  # 10 batches per epoch: stopped 3 batches into the second epoch
