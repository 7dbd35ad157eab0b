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


def test_input_is_sharded_only_under_a_multi_worker_cluster(monkeypatch):
    """Several batches per execution need batch counts of the whole split: not a worker's shard."""
    from components.trainer.distribution import input_is_sharded

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert not input_is_sharded()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["w0:2222", "w1:2222"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert input_is_sharded()


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


@pytest.mark.parametrize("per_call, cap, batches_run", [(5, 15, 15), (4, 12, 12), (16, 13, 13), (16, None, 50)])
def test_train_steps_cap_is_exact_with_several_batches_per_execution(per_call, cap, batches_run):
    """compiled_network's steps_per_execution: Keras calls on_train_batch_end once per execution; the cap
    still stops after exactly `cap` batches, and without a cap every planned batch runs."""
    import numpy as np
    import tf_keras as keras

    from components.trainer.schedule import steps_per_execution
    from components.trainer.train import StopAfterSteps
    from schemas.config import build_config

    train = build_config(overrides=[f"train.steps_per_execution={per_call}"]).train
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=steps_per_execution(train, 10, cap))
    stopper = StopAfterSteps(cap) if cap else None
    model.fit(np.zeros((40, 2)), np.zeros((40, 1)), batch_size=4, epochs=5, verbose=0,
              callbacks=[stopper] if stopper else [])
    assert int(model.optimizer.iterations.numpy()) == batches_run
    if stopper:
        assert stopper.steps == cap


def test_steps_per_execution_divides_the_epoch_and_the_cap():
    from components.trainer.schedule import steps_per_execution
    from schemas.config import build_config

    train = build_config().train
    assert train.steps_per_execution == 16
    assert steps_per_execution(train, 200) == 16          # no cap: Keras shortens each epoch's last execution
    assert steps_per_execution(train, 200, 1000) == 10     # gcd 200: its largest divisor up to 16
    assert steps_per_execution(train, 200, 37) == 1
    assert steps_per_execution(build_config(overrides=["train.steps_per_execution=1"]).train, 200) == 1
    with pytest.raises(ValueError, match="train.steps_per_execution"):
        build_config(overrides=["train.steps_per_execution=0"])


@pytest.mark.parametrize("prepared", [True, False])
def test_the_training_step_is_traced_once_when_its_variables_exist_before_fit(prepared, monkeypatch):
    """compiled_network creates the optimizer's slots and the loss metric before fit(), so tf.function traces
    the training step once; left to the first trace, they make it trace twice (the contrast, unprepared)."""
    import numpy as np
    import tensorflow as tf

    from components.trainer import train
    from schemas.config import build_config

    cfg = build_config(overrides=SMALL + ["train.steps_per_execution=4", "train.epochs=2"])
    inputs = train.TrainingInputs(  # what compiled_network reads; no data set, Transform graph or cache behind it
        cfg=cfg, tft_output=None, image_size=16, examples_uri="", class_names=["a", "b", "c"], spans=[],
        train_images=32, steps_per_epoch=8, train_ds=None, validation_ds=None, cache=None)
    if not prepared:  # what compile() alone leaves
        monkeypatch.setattr(train, "create_training_variables", lambda model: None)
    compiled = train.compiled_network(inputs)
    model = compiled.model
    assert (len(model.optimizer.variables) > 1) == prepared  # Adam's slots beside `iterations`, before any step
    images = np.random.default_rng(0).uniform(0, 1, (32, 16, 16, 3)).astype("float32")
    labels = tf.one_hot(np.arange(32) % 3, 3)
    history = model.fit(images, labels, batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert set(history.history) == {"loss", "accuracy"}
    assert model.train_tf_function.experimental_get_tracing_count() == (1 if prepared else 2)


# --------------------------------------------------------------------------- train.warm_start

def served_model(tmp_path, cfg_overrides=(), class_names=("blue", "green", "red"), image_size=16):
    """A model saved as the Trainer exports it (SavedModel + assets.extra/imgpipe.json), reduced to what
    warm start reads; returns (path, its weights)."""
    from components.trainer.model import build_model
    from schemas.config import build_config

    model = build_model(build_config(overrides=list(cfg_overrides)).model, image_size, len(class_names))
    path = str(tmp_path / "served")
    model.save(path, save_format="tf")
    os.makedirs(os.path.join(path, "assets.extra"))
    with open(os.path.join(path, "assets.extra", "imgpipe.json"), "w") as f:
        json.dump({"image_size": image_size, "class_names": list(class_names)}, f)
    return path, [w.copy() for w in model.get_weights()]


SMALL = ["model.stage_filters=[8]", "model.stage_strides=[2]", "model.stem_filters=8"]


def test_warm_start_copies_the_served_weights_when_classes_size_and_network_match(tmp_path):
    import numpy as np

    from components.trainer.model import build_model
    from components.trainer.warm_start import warm_start
    from schemas.config import build_config

    path, weights = served_model(tmp_path, SMALL)
    fresh = build_model(build_config(overrides=SMALL).model, 16, 3)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), weights))
    assert warm_start(fresh, path, ["blue", "green", "red"], 16) == f"warm start from the served model {path}"
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), weights))


@pytest.mark.parametrize("classes, size, overrides, reason", [
    (["blue", "green", "red", "white"], 16, SMALL, "cold start: the class list changed (served model: "
     "['blue', 'green', 'red']; this data: ['blue', 'green', 'red', 'white'])"),
    (["blue", "green", "red"], 24, SMALL, "cold start: the image size changed (served model: 16 px; now 24 px)"),
    (["blue", "green", "red"], 16, ["model.stage_filters=[16]", "model.stage_strides=[2]", "model.stem_filters=8"],
     "cold start: the architecture changed since the served model was trained (model.* settings)"),
])
def test_warm_start_says_why_it_trains_from_scratch(tmp_path, classes, size, overrides, reason):
    import numpy as np

    from components.trainer.model import build_model
    from components.trainer.warm_start import warm_start
    from schemas.config import build_config

    path, _ = served_model(tmp_path, SMALL)
    fresh = build_model(build_config(overrides=overrides).model, size, len(classes))
    before = [w.copy() for w in fresh.get_weights()]
    assert warm_start(fresh, path, classes, size) == reason
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), before))
    assert warm_start(fresh, str(tmp_path / "nothing"), classes, size) == "cold start: no model is served yet"


# --------------------------------------------------------------------------- train.deterministic

def test_deterministic_training_gives_bit_identical_weights_in_two_processes():
    """The Trainer's seeding, its shuffle stage (batches()) and its training-step augmentation
    (training_model), trained twice in fresh processes (bench/determinism_probe.py: a warm-up and two more
    epochs) with train.deterministic=true: the weights must match to the bit. (When this was written the
    augmentation was a parallel tf.data map, and with the default, false, the hashes differed on every try.)"""
    command = [sys.executable, "-m", "bench.determinism_probe", "true", "96", "16", "2",
               *SMALL, "train.batch_size=8", "augment.flip_left_right=true"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    digests = []
    for _ in range(2):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        digests.append(done.stdout.split()[-2])  # the last line is '<sha256> <images/s>'
    assert len(digests[0]) == 64 and digests[0] == digests[1]


@pytest.mark.parametrize("package", ["pipeline", "components"])
def test_entry_packages_cap_onednn_at_avx2_unless_the_user_chose(package):
    """oneDNN's AVX-512 convolution kernels corrupt the heap for some networks (SIGABRT in model.fit,
    schemas/runtime.py): importing an entry package caps them at AVX2, and a user's own value wins."""
    names = ("ONEDNN_MAX_CPU_ISA", "TF_USE_LEGACY_KERAS", "TF_ENABLE_ONEDNN_OPTS")
    code = f"import os, {package}; print(*(os.environ[n] for n in {names!r}))"
    env = {k: v for k, v in os.environ.items() if k not in names}
    unset = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert unset.stdout.split() == ["AVX2", "1", "1"], unset.stderr[-2000:]
    chosen = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            env={**env, "ONEDNN_MAX_CPU_ISA": "ALL", "TF_ENABLE_ONEDNN_OPTS": "0"},
                            capture_output=True, text=True, timeout=60)
    assert chosen.stdout.split() == ["ALL", "1", "0"], chosen.stderr[-2000:]


def test_onednn_avx512_only_for_networks_whose_convolutions_read_multiples_of_16_channels():
    """oneDNN's AVX-512 backward-weights convolution corrupts the heap when a layer reads fewer than 16
    channels (schemas/runtime.py): the cap is lifted for the residual CNN only with a multiple of 16 filters
    in the stem and every stage (the Tuner's widths stay inside that), and for the Keras applications, whose
    layers were checked (test_keras_applications_train_with_odd_batches_under_the_lifted_cap)."""
    from components.tuner.space import WIDTHS
    from schemas.config import ModelConfig
    from schemas.runtime import ONEDNN_FAST_ISA, ONEDNN_SAFE_CHANNELS, ONEDNN_SAFE_ISA, onednn_isa

    default = ModelConfig()
    assert onednn_isa(default)[0] == ONEDNN_FAST_ISA
    isa, why = onednn_isa(ModelConfig(stem_filters=8, stage_filters=[16, 32]))
    assert isa == ONEDNN_SAFE_ISA and "model.stem_filters=8" in why and "stage_filters" not in why
    isa, why = onednn_isa(ModelConfig(stem_filters=32, stage_filters=[32, 24]))
    assert isa == ONEDNN_SAFE_ISA and "model.stage_filters=[32, 24]" in why and "stem_filters" not in why
    from schemas.backbones import BACKBONES, RESNET_CNN
    checked = [name for name, backbone in BACKBONES.items() if backbone.onednn_avx512]
    assert checked == [name for name in BACKBONES if name != RESNET_CNN]
    for backbone in checked:
        isa, why = onednn_isa(ModelConfig(backbone=backbone))
        assert isa == ONEDNN_FAST_ISA and f"model.backbone={backbone}" in why
    assert all(width % ONEDNN_SAFE_CHANNELS == 0 for width in WIDTHS)


def _onednn_isa_in_fresh_process(code: str, env: dict) -> str:
    """The instruction set oneDNN reports at its first kernel (ONEDNN_VERBOSE), after `code` ran."""
    run = ("import components\n" + code + "\nimport tensorflow as tf\n"
           "tf.nn.conv2d(tf.ones((1, 8, 8, 3)), tf.ones((3, 3, 3, 16)), 1, 'SAME')\n")
    done = subprocess.run([sys.executable, "-c", run], cwd=REPO, env={**env, "ONEDNN_VERBOSE": "1"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if ",isa:" in line]
    assert lines, done.stdout[-2000:]
    return lines[0].split(",isa:")[1]


def test_imgpipe_run_lifts_the_onednn_cap_before_tensorflow_loads_and_only_then():
    """What lift_onednn_cap (called by `imgpipe run` before TensorFlow loads) does to the kernels oneDNN
    picks: AVX-512 on a CPU that has it when the network is safe; AVX2 for an unsafe network, after
    TensorFlow has loaded (too late: oneDNN may have read the variable), or when the user set the cap."""
    with open("/proc/cpuinfo") as f:
        avx512 = " avx512f " in f.read().replace("\n", " ")
    from schemas.runtime import ONEDNN_ISA_OURS

    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", ONEDNN_ISA_OURS)}
    lift = ("from schemas.config import ModelConfig\nfrom schemas.runtime import lift_onednn_cap\n"
            "print(lift_onednn_cap(ModelConfig(stem_filters={}, stage_filters=[32, 64])))")
    safe = _onednn_isa_in_fresh_process(lift.format(32), env)
    assert ("AVX-512" in safe) == avx512, safe  # e.g. 'Intel AVX-512 with Intel DL Boost' / 'Intel AVX2'
    assert "AVX-512" not in _onednn_isa_in_fresh_process(lift.format(8), env)
    late = "import tensorflow\n" + lift.format(32)
    assert "AVX-512" not in _onednn_isa_in_fresh_process(late, env)
    assert "AVX-512" not in _onednn_isa_in_fresh_process(lift.format(32), {**env, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    # started by a run that lifted it (the value and our mark passed on): decides again for its own network
    lifted = {**env, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", ONEDNN_ISA_OURS: "AVX512_CORE"}
    assert "AVX-512" not in _onednn_isa_in_fresh_process(lift.format(8), lifted)


def _train_at_avx512_under_heap_checks(code: str, timeout: int) -> subprocess.CompletedProcess:
    """Run `code` (ending in print('trained')) in a fresh process with oneDNN's AVX-512 kernels and glibc's
    strictest heap checks (MALLOC_CHECK_=3: a corrupted heap aborts at once); assert that it got to the end."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MALLOC_CHECK_": "3", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", "import components\n" + code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0 and done.stdout.split()[-1:] == ["trained"], done.stderr[-3000:]
    return done


def test_default_network_trains_with_odd_batches_under_the_lifted_cap():
    """The network the default config trains, with the AVX-512 kernels the lifted cap allows, on batches of
    odd size (what made the small networks' backward-weights convolution corrupt the heap), under glibc's
    strictest heap checks. On a CPU without AVX-512 this runs oneDNN's AVX2 kernels and proves less."""
    code = ("import numpy as np, tf_keras as keras\n"
            "from schemas.config import ModelConfig, AugmentConfig\n"
            "from components.trainer.model import build_model\n"
            "from components.trainer.augment import training_model\n"
            "model = training_model(build_model(ModelConfig(), 28, 4), AugmentConfig())\n"
            "model.compile(keras.optimizers.Adam(0.002), 'sparse_categorical_crossentropy')\n"
            "x = np.random.default_rng(0).uniform(0, 1, (41, 28, 28, 3)).astype('float32')\n"
            "model.fit(x, np.arange(41) % 4, batch_size=9, epochs=2, verbose=0)\n"
            "print('trained')\n")
    _train_at_avx512_under_heap_checks(code, timeout=300)


def test_keras_applications_train_with_odd_batches_under_the_lifted_cap():
    """The Keras applications backbones as the Trainer fine-tunes them (called with training=False, head
    alone, then the whole network), at AVX512_CORE, on odd batches, under glibc's strictest heap checks:
    what onednn_isa lifts the cap for. ResNet50 was checked the same way by hand (docs/performance.md:
    ~2 minutes here, too slow for every run); every convolution it has reads a multiple of 16 channels."""
    code = ("import numpy as np, tf_keras as keras\n"
            "from schemas.config import from_dict\n"
            "from components.trainer.backbones import application_model, feature_extractor\n"
            "from components.trainer.augment import training_model\n"
            "x = np.random.default_rng(0).uniform(0, 1, (23, 32, 32, 3)).astype('float32')\n"
            "for name in ('mobilenet_v3_small', 'efficientnet_v2_b0'):\n"
            "    cfg = from_dict({'model': {'backbone': name, 'backbone_weights': 'none'}})\n"
            "    network = application_model(cfg.model, 32, 4, pretrained=True)\n"
            "    for whole in (False, True):\n"
            "        feature_extractor(network).trainable = whole\n"
            "        model = training_model(network, cfg.augment)\n"
            "        model.compile(keras.optimizers.Adam(0.002), 'sparse_categorical_crossentropy')\n"
            "        model.fit(x, np.arange(23) % 4, batch_size=9, epochs=1, verbose=0)\n"
            "    print(name, network.predict(x[:7], verbose=0).shape)\n"
            "print('trained')\n")
    done = _train_at_avx512_under_heap_checks(code, timeout=600)
    assert "mobilenet_v3_small (7, 4)" in done.stdout and "efficientnet_v2_b0 (7, 4)" in done.stdout


def test_oneDNN_is_on_in_every_entry_process_whatever_the_cpu():
    """TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; an entry package turns
    it on everywhere (schemas/runtime.py), so TensorFlow's graph rewrite picks oneDNN's convolutions on an
    AVX2-only CPU too (IsMklEnabled is the switch that rewrite reads), and the user's TF_ENABLE_ONEDNN_OPTS=0
    still turns them off."""
    code = ("import components, tensorflow\n"
            "from tensorflow.python.util import _pywrap_util_port as port\n"
            "print(port.IsMklEnabled())\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    on = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert on.stdout.split()[-1:] == ["True"], on.stderr[-2000:]
    off = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**env, "TF_ENABLE_ONEDNN_OPTS": "0"},
                         capture_output=True, text=True, timeout=120)
    assert off.stdout.split()[-1:] == ["False"], off.stderr[-2000:]
