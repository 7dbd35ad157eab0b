"""model.backbone and model.backbone_weights (components/trainer/backbones.py, fine_tune.py), without network.

Every backbone is built with random weights on 32 px images, trained a few steps, exported with the
Trainer's serving signatures and called through both; weights files saved from such models load
through model.backbone_weights (a local path, and a ram:// URI standing in for gs://); files that do
not fit, and ImageNet weights Keras cannot fetch, are refused in one line; the head-only phase
really freezes the backbone. One real pipeline run fine-tunes mobilenet_v3_small from a weights file
and exports, checks (InfraCheck) and pushes it.
"""
import io
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from PIL import Image

from components.trainer.backbones import (BackboneWeightsError, backbone_layers, build_network, feature_extractor,
                                          keras_cache_path, preflight_weights, save_backbone_weights)
from components.trainer.fine_tune import PhasedLearningRate, fine_tune_learning_rate, fine_tuning
from components.trainer.tf_runtime import skip_autograph_for_tf_keras
from components.trainer.warmup import trained_model_probabilities
from components.transform.image_size import choose_image_size
from schemas import features
from schemas.backbones import BACKBONES
from schemas.config import ConfigError, build_config
from components.transform.standalone import write_transform_graph
from tests.serving_fixtures import export_trainer_model

SIZE = 32
CLASSES = ["dark", "light"]
pytestmark = pytest.mark.filterwarnings("ignore:non-integer arguments to randrange")


def config(backbone, weights="none", *more):
    return build_config(overrides=[f"model.backbone={backbone}", f"model.backbone_weights={weights}",
                                   f"data.image_size={SIZE}", *more])


def images(count=8, seed=0):
    """Dark and light noise images in [0, 1], and their one-hot labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    x = rng.uniform(0, 0.5, (count, SIZE, SIZE, 3)) + 0.5 * labels[:, None, None, None]
    return x.astype("float32"), keras.utils.to_categorical(labels, 2)


def png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((array * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def example(encoded: bytes) -> bytes:
    """A tf.Example as ImageExampleGen writes it (reduced to the features the Transform graph reads)."""
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[0]))})).SerializeToString()


def short_fit(model, steps=2, lr=1e-3):
    x, y = images(8 * steps)
    model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


# --------------------------------------------------------------------------- config (no TensorFlow needed)

@pytest.mark.parametrize("overrides, error", [
    (["model.backbone=vgg16"], "invalid value for model.backbone: 'vgg16'; expected one of resnet_cnn, "
     "mobilenet_v3_small, efficientnet_v2_b0, resnet50"),
    (["model.backbone_weights=imagenet"], "model.backbone_weights=imagenet: there are no ImageNet weights for "
     "model.backbone=resnet_cnn; pick a Keras applications backbone (mobilenet_v3_small, efficientnet_v2_b0, "
     "resnet50), or give a weights file saved from a resnet_cnn"),
    (["model.backbone=resnet50", "model.backbone_weights=/w/resnet.ckpt"], "invalid value for "
     "model.backbone_weights: '/w/resnet.ckpt'; expected auto, imagenet, none, or the path or gs:// URI of a "
     "Keras weights file (.h5 or .hdf5)"),
    (["model.backbone=mobilenet_v3_small", "model.stem_filters=8"], "model.stem_filters=8 shapes the "
     "resnet_cnn only, and model.backbone=mobilenet_v3_small; remove it (the head keys model.head, dense_units, "
     "dropout, layer_norm apply to every backbone)"),
    (["model.backbone=efficientnet_v2_b0", "data.image_size=24"], "invalid value for data.image_size: 24; "
     "model.backbone=efficientnet_v2_b0 needs at least 32 px (it downsamples 32x); use 128 or auto"),
    (["train.fine_tune_lr_factor=1.5"],
     "invalid value for train.fine_tune_lr_factor: 1.5; expected 'auto' or a number in (0, 1]"),
    (["train.fine_tune_lr_factor=fast"], "invalid value for train.fine_tune_lr_factor: 'fast'; expected 'auto' or a number"),
])
def test_backbone_settings_that_cannot_work_are_refused_in_one_line(overrides, error):
    with pytest.raises(ConfigError) as caught:
        build_config(overrides=overrides)
    assert str(caught.value) == error


@pytest.mark.parametrize("overrides, factor", [
    ([], 1.0),                                                       # resnet_cnn: a team's own weights
    (["model.backbone=mobilenet_v3_small"], 0.1),                    # ImageNet features: the gentle rate
    (["model.backbone=resnet50", "model.backbone_weights=/w/r.h5"], 0.1),  # a Keras application's file too
    (["train.fine_tune_lr_factor=0.5"], 0.5),
    (["model.backbone=efficientnet_v2_b0", "train.fine_tune_lr_factor=1"], 1.0),
])
def test_fine_tune_lr_factor_auto_is_full_rate_for_resnet_cnn_weights_and_a_tenth_for_keras_applications(
        overrides, factor):
    from components.trainer.fine_tune import lr_factor
    assert lr_factor(build_config(overrides=overrides)) == factor


def test_weights_default_to_imagenet_for_keras_applications_and_none_for_resnet_cnn():
    from schemas.backbones import weights_source
    assert weights_source(build_config().model) == "none"
    assert weights_source(build_config(overrides=["model.backbone=resnet50"]).model) == "imagenet"
    assert weights_source(build_config(overrides=["model.backbone=resnet50", "model.backbone_weights=gs://b/w.h5"]
                                       ).model) == "gs://b/w.h5"


def test_auto_image_size_never_goes_below_the_backbones_floor():
    digits = {"28": 1000}  # 28 px images
    sizes = {name: choose_image_size("auto", digits, 32, 128, name).size for name in BACKBONES}
    assert sizes == {"resnet_cnn": 32, "mobilenet_v3_small": 96, "efficientnet_v2_b0": 128, "resnet50": 128}
    assert choose_image_size("auto", digits, 32, 64, "resnet50").size == 128  # the floor wins over the cap
    assert choose_image_size("auto", {"400": 10}, 32, 160, "mobilenet_v3_small").size == 160
    assert "below 96 px for model.backbone=mobilenet_v3_small" in choose_image_size(
        "auto", digits, 32, 128, "mobilenet_v3_small").note


def test_the_second_phase_runs_at_the_fine_tune_factor_of_the_learning_rate():
    rate = PhasedLearningRate(keras.optimizers.schedules.CosineDecay(0.0, 90, warmup_target=0.01, warmup_steps=10),
                              boundary_step=30, factor=0.1)
    base = rate.base
    assert float(rate(29)) == pytest.approx(float(base(29)))
    assert float(rate(30)) == pytest.approx(0.1 * float(base(30)))
    assert fine_tune_learning_rate(0.002, config("resnet_cnn"), 10) == 0.002  # no pretrained weights: one phase
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(rate))  # a saved optimizer's
    assert float(again(30)) == pytest.approx(float(rate(30)))


# --------------------------------------------------------------------------- build, train, export, serve

@pytest.fixture(scope="module")
def tft_output(tmp_path_factory):
    """The real Transform graph (preprocessing_fn at 32 px), written as the Transform component writes it."""
    return write_transform_graph(str(tmp_path_factory.mktemp("transform")), SIZE, [png(x) for x in images(4)[0]])


@pytest.mark.parametrize("backbone", [b for b in BACKBONES if b != "mobilenet_v3_small"])  # that one: the pipeline run below
def test_each_backbone_trains_exports_and_answers_the_same_through_both_signatures(backbone, tft_output, tmp_path):
    """Random weights, a few steps, the Trainer's export (make_serving_signatures + model.save): both
    signatures give the probabilities the trained model gives through the training input path, so the
    backbone's input scaling is inside the served graph (what InfraCheck holds the export to)."""
    skip_autograph_for_tf_keras()
    model = short_fit(build_network(config(backbone), SIZE, len(CLASSES)))
    export = export_trainer_model(str(tmp_path / "model"), tft_output, CLASSES, model=model)

    test_images = [png(x) for x in images(4, seed=1)[0]]
    expected = trained_model_probabilities(model, tft_output.transform_features_layer(),
                                           tft_output.raw_feature_spec(), [example(b) for b in test_images])
    served = tf.saved_model.load(export).signatures
    by_example = served[features.EXAMPLES_SIGNATURE](**{features.EXAMPLES_INPUT: tf.constant(
        [example(b) for b in test_images])})
    by_bytes = served[features.BYTES_SIGNATURE](**{features.BYTES_INPUT: tf.constant(test_images)})
    for answer in (by_example, by_bytes):
        np.testing.assert_allclose(answer[features.PROBABILITIES_OUTPUT].numpy(), expected, atol=1e-5)
        assert [CLASSES.index(n.decode()) for n in answer[features.CLASS_NAME_OUTPUT].numpy()] == \
            list(expected.argmax(axis=1))


def test_resnet50_gets_caffe_style_bgr_mean_subtracted_input():
    model = build_network(config("resnet50"), SIZE, 2)
    scaled = model.get_layer("backbone_input_scaling")(tf.constant([[[[1.0, 0.5, 0.0]]]])).numpy()
    np.testing.assert_allclose(scaled[0, 0, 0], [0 - 103.939, 127.5 - 116.779, 255 - 123.68], rtol=1e-6)


# --------------------------------------------------------------------------- weights files

@pytest.mark.parametrize("backbone", ["resnet_cnn", "mobilenet_v3_small"])
def test_a_saved_weights_file_loads_through_backbone_weights_with_identical_predictions(backbone, tmp_path):
    """Saved from a random-weights model (trained a step, so not an initialiser's draw), loaded into a
    new network through the config key, from a path and from a ram:// URI (tf.io.gfile, as gs:// is)."""
    trained = short_fit(build_network(config(backbone), SIZE, 2), steps=1)
    path = save_backbone_weights(trained, str(tmp_path / "backbone.h5"))
    uri = save_backbone_weights(trained, f"ram://{tmp_path}/remote/backbone.h5")
    x, _ = images(4, seed=2)
    for source in (path, uri):
        loaded = build_network(config(backbone, source), SIZE, 2)
        np.testing.assert_array_equal(feature_extractor(loaded)(x, training=False),
                                      feature_extractor(trained)(x, training=False))
        head = loaded.get_layer(features.PROBABILITIES_OUTPUT)
        head.set_weights(trained.get_layer(features.PROBABILITIES_OUTPUT).get_weights())
        np.testing.assert_array_equal(loaded(x, training=False), trained(x, training=False))
    other_classes = build_network(config(backbone, path), SIZE, 5)  # the head is not in the file
    assert other_classes.output_shape == (None, 5)


def test_a_weights_file_that_does_not_fit_is_refused_naming_the_file_and_layer(tmp_path):
    small = build_network(config("resnet_cnn", "none", "model.stem_filters=8"), SIZE, 2)
    path = save_backbone_weights(small, str(tmp_path / "small.h5"))
    with pytest.raises(BackboneWeightsError) as caught:
        build_network(config("resnet_cnn", path), SIZE, 2)
    assert str(caught.value) == (
        f"model.backbone_weights={path}: layer 1 ('stem_conv' in the file, 'stem_conv' here) holds weights of "
        "shapes 3x3x3x8, the backbone needs 3x3x3x32: it was saved from another network than "
        "model.backbone=resnet_cnn (or other model.* settings)")
    with pytest.raises(BackboneWeightsError) as caught:
        build_network(config("mobilenet_v3_small", path), SIZE, 2)
    assert re.fullmatch(f"model.backbone_weights={path}: the file holds weights for 20 layers, the backbone has "
                        r"\d+: it was saved from another network than model.backbone=mobilenet_v3_small "
                        r"\(or other model.\* settings\)", str(caught.value))
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(BackboneWeightsError, match=f"^model.backbone_weights={garbage}: {garbage} is not a Keras "
                                                   "HDF5 weights file"):
        build_network(config("resnet_cnn", str(garbage)), SIZE, 2)
    with pytest.raises(BackboneWeightsError, match=f"^model.backbone_weights={tmp_path}/none.h5: no such file$"):
        build_network(config("resnet_cnn", f"{tmp_path}/none.h5"), SIZE, 2)


@pytest.fixture
def no_imagenet_download(tmp_path, monkeypatch):
    """An empty Keras cache, and Keras' download URL pointed at a closed local port: no network is tried."""
    from tf_keras.src.applications import mobilenet_v3
    (tmp_path / "keras").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(mobilenet_v3, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/")
    return tmp_path / "keras" / "models" / BACKBONES["mobilenet_v3_small"].imagenet_file


def test_imagenet_weights_keras_cannot_fetch_are_one_line_naming_the_file_and_where_to_put_it(
        no_imagenet_download, tmp_path, capsys):
    """`imgpipe run` says it before TFX starts (exit 2); the Trainer would say the same."""
    from pipeline.cli import main
    from tests.fixtures import make_colour_folder

    name = BACKBONES["mobilenet_v3_small"].imagenet_file
    assert keras_cache_path("mobilenet_v3_small") == str(no_imagenet_download)
    data = make_colour_folder(str(tmp_path / "data"), per_class=6)
    code = main(["run", "--data", data, "--output", str(tmp_path / "out"), "--set", "model.backbone=mobilenet_v3_small"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"imgpipe: error: model.backbone_weights=imagenet: Keras could not fetch {name} (")
    assert err.endswith(f"download http://127.0.0.1:9/{name} where there is internet and put it at "
                        f"{no_imagenet_download}, or give its path or gs:// URI as model.backbone_weights\n")
    assert not (tmp_path / "out" / "metadata.sqlite").exists() and not (tmp_path / "out" / "pipeline_root").exists()
    no_imagenet_download.write_bytes(b"a partial download")
    with pytest.raises(BackboneWeightsError) as caught:
        preflight_weights(build_config(overrides=["model.backbone=mobilenet_v3_small"]))
    assert str(caught.value).startswith(f"model.backbone_weights=imagenet: {no_imagenet_download} is not the file "
                                        "Keras expects (md5 ")
    assert no_imagenet_download.read_bytes() == b"a partial download"  # not deleted, as Keras' get_file would


def test_kubeflow_compile_refuses_weights_the_pods_cannot_open(tmp_path):
    """Checked before TFX is imported; gs:// and mounted paths go through (the pods copy them as run_fn does)."""
    from pipeline.kubeflow.compiler import CompileError, compile_pipeline

    cfg = build_config(overrides=["model.backbone=resnet50", "model.backbone_weights=s3://team/resnet50.h5"])
    with pytest.raises(CompileError) as caught:
        compile_pipeline(cfg, "kfp", "registry/imgpipe:1", "gs://bucket/root", str(tmp_path / "p.yaml"))
    assert str(caught.value).startswith("model.backbone_weights s3://team/resnet50.h5: tf.io.gfile in the containers "
                                        "cannot open s3://")


# --------------------------------------------------------------------------- two phases

@pytest.mark.parametrize("backbone", ["resnet_cnn", "mobilenet_v3_small"])
def test_the_head_only_phase_freezes_the_backbone_and_the_second_phase_trains_it(backbone, tmp_path):
    """Epoch 1: only the head changes, BatchNorm statistics included; epoch 2: the backbone too. A Keras
    application keeps its BatchNorm statistics (called with training=False), resnet_cnn re-estimates them."""
    path = save_backbone_weights(build_network(config(backbone), SIZE, 2), str(tmp_path / "b.h5"))
    cfg = config(backbone, path, "train.freeze_backbone_epochs=1", "train.epochs=2")
    model = build_network(cfg, SIZE, 2)
    optimizer = keras.optimizers.Adam(fine_tune_learning_rate(1e-3, cfg, 2))
    callbacks = fine_tuning(cfg, model, optimizer)
    model.compile(optimizer, "categorical_crossentropy")
    backbone_weights = [w for layer in backbone_layers(model) for w in layer.weights]
    statistics = [("moving_" in w.name) for w in backbone_weights]
    snapshots, trainable = [[w.numpy().copy() for w in backbone_weights]], []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (
        snapshots.append([w.numpy().copy() for w in backbone_weights]),
        trainable.append({id(w) for w in model.trainable_weights})))
    x, y = images(16)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks + [record])

    head = {id(w) for w in model.get_layer(features.PROBABILITIES_OUTPUT).weights}
    learned = {id(w) for w, stat in zip(backbone_weights, statistics) if not stat}
    assert any(statistics) and learned
    assert trainable == [head, head | learned]  # phase 1: the head alone; phase 2: everything
    moved = [[not np.array_equal(a, b) for a, b in zip(before, after)] for before, after in zip(snapshots, snapshots[1:])]
    assert not any(moved[0])  # phase 1: nothing of the backbone moved, BatchNorm statistics included
    # phase 2: it learns (a random "pretrained" MobileNet has a few saturated units with zero gradient) ...
    assert sum(m for m, stat in zip(moved[1], statistics) if not stat) > 0.5 * len(learned)
    stats_moved = [m for m, stat in zip(moved[1], statistics) if stat]
    assert all(stats_moved) if backbone == "resnet_cnn" else not any(stats_moved)  # ... BN as described


# --------------------------------------------------------------------------- warm start

def test_warm_start_refuses_a_served_model_with_another_backbone(tmp_path):
    from components.trainer.warm_start import warm_start

    served = build_network(config("resnet_cnn", "none", "model.stem_filters=8"), SIZE, 2)
    path = str(tmp_path / "served")
    served.save(path, save_format="tf")
    os.makedirs(os.path.join(path, "assets.extra"))
    with open(os.path.join(path, "assets.extra", "imgpipe.json"), "w") as f:
        json.dump({"image_size": SIZE, "class_names": CLASSES, "backbone": "resnet_cnn"}, f)
    fresh = build_network(config("mobilenet_v3_small"), SIZE, 2)
    assert warm_start(fresh, path, CLASSES, SIZE, "mobilenet_v3_small") == (
        "cold start: the backbone changed (served model: resnet_cnn; now model.backbone=mobilenet_v3_small)")


# --------------------------------------------------------------------------- the real pipeline

def test_a_pipeline_run_fine_tunes_a_weights_file_exports_checks_and_pushes_it(tmp_path):
    """LocalDagRunner on 20 px colour images with mobilenet_v3_small from a weights file: auto raises the size
    to the backbone's 96 px floor, run_fn trains the two phases and exports, InfraCheck (a fresh process
    replaying both signatures against the trained model's answers) passes, and the pushed model's facts
    and the summary name the backbone."""
    from components.pusher.publish import read_model_facts
    from pipeline.local.runner import run_local
    from pipeline.history.summary import format_summary
    from tests.fixtures import make_colour_folder

    data = make_colour_folder(str(tmp_path / "data"), per_class=12)
    weights = save_backbone_weights(build_network(config("mobilenet_v3_small"), SIZE, 2), str(tmp_path / "m.h5"))
    cfg = build_config(overrides=[
        "model.backbone=mobilenet_v3_small", f"model.backbone_weights={weights}", "train.epochs=2",
        "train.freeze_backbone_epochs=1", "train.batch_size=16", "train.early_stopping_patience=0",
        "eval.min_accuracy=0", "eval.min_class_recall=0", "eval.max_class_recall_drop=1",
        "serving.warmup_images=2", "data.test_percent=20"])
    summary = run_local(cfg, data, str(tmp_path / "out"))

    assert summary.error == "" and summary.image_size == 96
    assert summary.infra_check["problems"] == [] and summary.pushed_path
    facts = read_model_facts(summary.pushed_path)
    assert (facts["backbone"], facts["backbone_weights"], facts["image_size"]) == ("mobilenet_v3_small", weights, 96)
    assert f"Backbone: mobilenet_v3_small from {weights}: epoch 1: the head only (backbone frozen); epoch 2: the " \
           "whole network at train.fine_tune_lr_factor=0.1 (auto) x the learning rate; kept epoch from the whole network " \
           "phase" in format_summary(summary).splitlines()
