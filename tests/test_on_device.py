"""The on-device models: a real exported SavedModel converted to TFLite float32 and int8, judged against
the SavedModel on the same images, pushed beside it (or blocked), and answered by `imgpipe predict`."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components.on_device.executor import (build_and_judge, failed_report, not_built_report, push_if_allowed,
                                          split_pattern)
from components.on_device.report import read_report, summary_line
from components.on_device.spec import MODEL_FILES, PREPROCESSING_FILE, OnDeviceSettings
from components.pusher.integrity import verify_version
from components.transform.standalone import write_transform_graph
from schemas import features
from schemas.config import ConfigError, build_config
from tests.fixtures import COLOUR_CLASSES, encoded_colour_image
from tests.serving_fixtures import export_trainer_model

SIZE = 16
CLASSES = sorted(COLOUR_CLASSES)  # blue, green, red: label == index
SERVING = build_config().serving


def colour_network():
    """Mean colour -> class, weights set by hand: confident like a trained model, built in no time."""
    import tf_keras as keras
    model = keras.Sequential([keras.layers.GlobalAveragePooling2D(input_shape=(None, None, 3)),
                              keras.layers.Dense(len(CLASSES), activation="softmax",
                                                 name=features.PROBABILITIES_OUTPUT)])
    kernel = np.zeros((3, len(CLASSES)), np.float32)
    for i, name in enumerate(CLASSES):
        kernel[COLOUR_CLASSES[name], i] = 20.0
    model.layers[-1].set_weights([kernel, np.zeros(len(CLASSES), np.float32)])
    return model


def write_split(examples_uri: str, split: str, seeds) -> None:
    os.makedirs(os.path.join(examples_uri, f"Split-{split}"))
    with tf.io.TFRecordWriter(os.path.join(examples_uri, f"Split-{split}", "data.gz"), options="GZIP") as w:
        for seed in seeds:
            label = seed % len(CLASSES)
            w.write(tf.train.Example(features=tf.train.Features(feature={
                features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[encoded_colour_image(CLASSES[label], size=24, seed=seed)])),
                features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))})).SerializeToString())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("on_device")
    tft_output = write_transform_graph(str(root / "transform"), SIZE,
                                       [encoded_colour_image(c, size=24, seed=i) for i, c in enumerate(CLASSES)])
    saved = export_trainer_model(str(root / "trainer" / "model"), tft_output, CLASSES, model=colour_network())
    examples = str(root / "examples")
    write_split(examples, features.TRAIN_SPLIT, range(30))
    write_split(examples, features.TEST_SPLIT, range(1000, 1030))
    out = str(root / "artifact")
    report = build_and_judge(saved, tft_output, split_pattern(examples, features.TRAIN_SPLIT),
                             [split_pattern(examples, features.TEST_SPLIT)], ("float", "int8"), out)
    return {"root": root, "saved": saved, "out": out, "report": report, "examples": examples}


def test_both_tflite_models_answer_as_the_saved_model_on_the_test_images(built):
    report = built["report"]
    assert report["images"] == 30 and report["server_accuracy"] == 1.0
    assert set(report["variants"]) == {"float", "int8"}
    for variant, r in report["variants"].items():
        assert r["agreement"] == 1.0 and r["accuracy"] == 1.0, variant
        assert r["bytes"] == os.path.getsize(os.path.join(built["out"], "tflite", MODEL_FILES[variant]))


def test_int8_calibrates_on_images_spread_over_a_split_written_class_by_class(tmp_path):
    """The image ExampleGen writes each split class by class: the calibration sample takes every k-th record,
    so it holds every class, not the first class's first images."""
    from components.on_device.evaluate import read_spread
    sorted_by_class = sorted(range(300), key=lambda seed: seed % len(CLASSES))
    write_split(str(tmp_path), features.TRAIN_SPLIT, sorted_by_class)
    pattern = split_pattern(str(tmp_path), features.TRAIN_SPLIT)
    expected = {seed: encoded_colour_image(CLASSES[seed % len(CLASSES)], size=24, seed=seed) for seed in sorted_by_class}

    sample = read_spread(pattern, 30)

    assert sample == [expected[sorted_by_class[i]] for i in range(0, 300, 10)]  # records 0, 10, ..., 290
    assert {sorted_by_class[i] % len(CLASSES) for i in range(0, 300, 10)} == {0, 1, 2}
    assert len(read_spread(pattern, 1000)) == 300  # fewer records than asked: all of them


def test_preprocessing_json_says_what_the_transform_graph_does(built):
    with open(os.path.join(built["out"], "tflite", PREPROCESSING_FILE)) as f:
        facts = json.load(f)
    assert facts["input"] == {"name": features.IMAGE_XF_KEY, "shape": [1, SIZE, SIZE, 3], "dtype": "float32"}
    assert facts["resize"]["method"] == "bilinear" and facts["resize"]["antialias"] is True
    assert (facts["resize"]["width"], facts["resize"]["height"]) == (SIZE, SIZE)
    assert facts["scaling"]["divide_by"] == 255.0 and facts["channel_order"] == "RGB"
    with open(os.path.join(built["out"], "tflite", "labels.txt")) as f:
        assert f.read().split() == CLASSES


def test_the_folder_is_pushed_beside_the_saved_model_version_with_a_manifest(built, tmp_path):
    settings = OnDeviceSettings.from_serving_config(SERVING)
    serving_model_dir = str(tmp_path / "serving" / "image_classifier")
    report = push_if_allowed(dict(built["report"]), built["out"], settings, serving_model_dir, "1700000000")
    folder = str(tmp_path / "serving" / "image_classifier-tflite" / "1700000000")
    assert report["pushed"] and report["destination"] == folder
    assert sorted(os.listdir(folder)) == ["assets.extra", "labels.txt", "model.tflite", "model_int8.tflite",
                                          PREPROCESSING_FILE]
    assert verify_version(folder) == []
    assert read_report(built["out"])["pushed"] is True
    line = summary_line(read_report(built["out"]))
    assert line.startswith("TFLite: float ") and "; int8 " in line and "agreement 1.000" in line
    assert line.endswith(f"(server 1.000): pushed to {folder}")


def test_below_min_agreement_the_tflite_push_is_blocked_with_the_reason(built, tmp_path):
    report = dict(built["report"], variants={**built["report"]["variants"],
                                             "int8": dict(built["report"]["variants"]["int8"], agreement=0.9)})
    serving_model_dir = str(tmp_path / "image_classifier")
    report = push_if_allowed(report, str(tmp_path / "artifact"), OnDeviceSettings.from_serving_config(SERVING),
                             serving_model_dir, "17")
    assert not report["pushed"] and not os.path.exists(serving_model_dir + "-tflite")
    assert report["reason"] == ("int8 agrees with the SavedModel on 0.900 of 30 images "
                                "(< serving.tflite_min_agreement 0.99)")
    assert summary_line(report).endswith("NOT pushed: " + report["reason"])


@pytest.mark.parametrize("report, reason", [
    (not_built_report(), "the SavedModel was not pushed"),
    (not_built_report("serving/m/7"), "the SavedModel was not pushed (serving/m/7 is served already)")])
def test_nothing_tflite_is_built_or_pushed_when_the_saved_model_was_not(report, reason, tmp_path):
    report = push_if_allowed(report, str(tmp_path / "artifact"), OnDeviceSettings.from_serving_config(SERVING),
                             str(tmp_path / "m"), None)
    assert not report["pushed"] and report["reason"] == reason
    assert not os.path.exists(str(tmp_path / "m-tflite"))
    assert summary_line(report) == f"TFLite: NOT pushed: {reason}"


def test_a_conversion_that_fails_blocks_the_tflite_push_only_and_says_why(tmp_path):
    report = push_if_allowed(failed_report(ValueError("op ScaleAndTranslate\nis not supported")),
                             str(tmp_path / "artifact"), OnDeviceSettings.from_serving_config(SERVING),
                             str(tmp_path / "m"), "17")
    assert not report["pushed"] and not os.path.exists(str(tmp_path / "m-tflite"))
    assert report["reason"] == "not converted: ValueError: op ScaleAndTranslate"


@pytest.mark.parametrize("value, variants", [("both", ["float", "int8"]), ("float", ["float"]), ("int8", ["int8"])])
def test_serving_tflite_chooses_the_variants(value, variants):
    settings = OnDeviceSettings.from_serving_config(build_config("", [f"serving.tflite={value}"]).serving)
    assert list(settings.variants) == variants


def test_serving_tflite_off_is_read_from_yaml_and_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("serving:\n  tflite: off\n")  # YAML 1.1: a bare off is false
    assert build_config(str(path)).serving.tflite == "off"
    assert build_config("", ["serving.tflite=off"]).serving.tflite == "off"


@pytest.mark.parametrize("override, message", [
    ("serving.tflite=fp16", "invalid value for serving.tflite: 'fp16'; expected off | float | int8 | both"),
    ("serving.tflite_min_agreement=1.5", "invalid value for serving.tflite_min_agreement: 1.5; expected a number "
                                         "from 0 to 1")])
def test_bad_tflite_settings_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError) as e:
        build_config("", [override])
    assert str(e.value) == message


@pytest.fixture(scope="module")
def pushed(built, tmp_path_factory):
    """The SavedModel and the TFLite folder pushed side by side, as a run leaves them, and test images."""
    import shutil
    serving = tmp_path_factory.mktemp("serving")
    model_dir = str(serving / "image_classifier")
    shutil.copytree(built["saved"], os.path.join(model_dir, "5"))
    push_if_allowed(dict(built["report"]), built["out"], OnDeviceSettings.from_serving_config(SERVING), model_dir, "5")
    images = tmp_path_factory.mktemp("images")
    for i in range(12):
        with open(images / f"{i:02d}.png", "wb") as f:
            f.write(encoded_colour_image(CLASSES[i % 3], size=24, seed=2000 + i))
    (images / "broken.png").write_bytes(b"not an image")
    return {"model_dir": model_dir, "images": str(images)}


def predict_json(model, images):
    from pipeline.cli import main
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["predict", "--json", "--model", model, images])
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("which", ["folder", "versions", "int8 file"])
def test_predict_on_tflite_answers_like_the_saved_model_with_the_same_fields(pushed, which):
    model = {"folder": pushed["model_dir"] + "-tflite/5", "versions": pushed["model_dir"] + "-tflite",
             "int8 file": pushed["model_dir"] + "-tflite/5/model_int8.tflite"}[which]
    server_code, server = predict_json(pushed["model_dir"], pushed["images"])
    code, device = predict_json(model, pushed["images"])
    assert code == server_code == 1  # broken.png fails on both
    assert [set(d) for d in device] == [set(s) for s in server]
    assert [d["class_name"] for d in device] == [s["class_name"] for s in server]
    assert [d["path"] for d in device if d["error"]] == [os.path.join(pushed["images"], "broken.png")]
    assert [d["class_name"] for d in device if not d["error"]] == [CLASSES[i % 3] for i in range(12)]
    for d, s in zip(device, server):
        assert d["probability"] == pytest.approx(s["probability"], abs=0.05) if not d["error"] else True
