"""`imgpipe rollback` and `imgpipe predict` on a real SavedModel with the serving contract."""
import json
import os

import pytest

from components.pusher.publish import publish, rolled_back_versions, served_versions
from pipeline.cli import main
from pipeline.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipeline.serving.predict import BATCH_SIZE, Predictor, predict_paths
from tests.fixtures import encoded_colour_image
from tests.serving_fixtures import save_colour_model


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory):
    """<serving>/colour/{100,200}: the same colour model pushed twice."""
    root = tmp_path_factory.mktemp("serving")
    model = save_colour_model(str(root / "export" / "model"))
    for version in (100, 200):
        publish(model, str(root / "serving" / "colour"), version)
    return str(root / "serving")


@pytest.fixture()
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, name in enumerate(["red", "green", "blue"]):
        (folder / f"{i}_{name}.png").write_bytes(encoded_colour_image(name, seed=i))
    (folder / "3_notes.txt").write_text("not an image")
    (folder / "4_truncated.png").write_bytes(encoded_colour_image("red")[:40])
    return folder


def test_predict_prints_top_k_classes_and_one_line_per_bad_file(serving_dir, images, capsys):
    files = sorted(str(p) for p in images.iterdir())
    rc = main(["predict", "--model", os.path.join(serving_dir, "colour"), "--top-k", "2", *files])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert rc == EXIT_FAILED and "2 of 5 file(s) failed" in err
    assert "colour/200" in err  # the newest version
    assert [line.split(": ")[1].split()[0] for line in lines[:3]] == ["red", "green", "blue"]
    assert len(lines[0].split(", ")) == 2  # top-2
    assert lines[3] == f"{files[3]}: error: content is not JPEG, PNG, GIF or BMP (first bytes: b'not an i')"
    assert lines[4].startswith(f"{files[4]}: error: ")


def test_predict_json_is_one_object_per_line_for_a_folder(serving_dir, images, capsys):
    rc = main(["predict", "--model", os.path.join(serving_dir, "colour", "100"), "--json", str(images)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == EXIT_FAILED  # the truncated PNG; the .txt is not an image file, so a folder skips it
    assert [r["path"] for r in rows] == sorted(str(p) for p in images.iterdir() if p.suffix == ".png")
    assert [r["class_name"] for r in rows[:3]] == ["red", "green", "blue"] and rows[3]["class_name"] is None
    assert all(0.5 < r["probability"] <= 1 and r["error"] is None for r in rows[:3])
    assert rows[3]["error"] and rows[3]["probability"] is None


def test_predict_all_good_exits_0_and_a_missing_model_is_a_usage_error(serving_dir, images, tmp_path, capsys):
    assert main(["predict", "--model", os.path.join(serving_dir, "colour"), str(images / "*_*.png")]) == EXIT_FAILED
    assert main(["predict", "--model", os.path.join(serving_dir, "colour"), str(images / "[0-2]_*.png")]) == EXIT_OK
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path), str(images)]) == EXIT_USAGE
    assert f"no SavedModel at {tmp_path} and no pushed version under it" in capsys.readouterr().err
    model = os.path.join(serving_dir, "colour")
    assert main(["predict", "--model", model, str(images / "*.jpg")]) == EXIT_USAGE
    assert f"no file matches '{images}/*.jpg'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["predict", "--model", model, str(tmp_path / "empty")]) == EXIT_USAGE
    assert f"no image files (.jpg .jpeg .png .gif .bmp) in folder {tmp_path / 'empty'}" in capsys.readouterr().err


def test_large_folders_go_in_batches_with_progress(serving_dir, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(BATCH_SIZE + 6):
        (folder / f"{i:03d}.png").write_bytes(encoded_colour_image("blue", seed=i))
    (folder / "010.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)  # passes the magic bytes, not the decode
    paths = sorted(str(p) for p in folder.iterdir())
    calls = []
    predictor = Predictor(os.path.join(serving_dir, "colour", "200"), top_k=1)
    results = list(predict_paths(predictor, paths, lambda done, total: calls.append((done, total))))
    assert calls == [(BATCH_SIZE, BATCH_SIZE + 6), (BATCH_SIZE + 6, BATCH_SIZE + 6)]
    assert [r.path for r in results] == paths
    assert [r.path for r in results if r.error] == [str(folder / "010.png")]
    assert {r.top[0][0] for r in results if not r.error} == {"blue"}


def test_rollback_then_restore_through_the_cli(serving_dir, capsys):
    model_dir = os.path.join(serving_dir, "colour")
    assert main(["rollback", "--serving-dir", serving_dir, "--model", "colour"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"{model_dir}: serving version 100 (hidden 200)" in out and "--restore" in out
    assert served_versions(model_dir) == [100] and rolled_back_versions(model_dir) == [200]
    assert 'key: "stable" value: 100' in open(os.path.join(model_dir, "models.config")).read()
    assert main(["rollback", "--serving-dir", serving_dir, "--model", "colour", "--to", "7"]) == EXIT_USAGE
    assert "version 7 is not in" in capsys.readouterr().err
    assert main(["rollback", "--serving-dir", serving_dir, "--model", "colour", "--restore"]) == EXIT_OK
    assert served_versions(model_dir) == [100, 200]
    assert main(["rollback", "--serving-dir", serving_dir, "--model", "nothing"]) == EXIT_USAGE
    assert "no pushed versions in" in capsys.readouterr().err


def test_predict_answers_a_bomb_with_the_serving_guards_refusal(serving_dir, images, capsys):
    """Pillow's header check passes an 8000x8000 PNG (below its own bomb limit); the signature's guard
    refuses it, and the line says why, while the other images in the same batch are answered."""
    from components.infra_check.hostile import png_bomb
    (images / "5_bomb.png").write_bytes(png_bomb(8000, 8000, rows=1))
    rc = main(["predict", "--model", os.path.join(serving_dir, "colour"), str(images / "0_red.png"),
               str(images / "5_bomb.png")])
    lines = capsys.readouterr().out.splitlines()
    assert rc == EXIT_FAILED and lines[0].split(": ")[1].startswith("red")
    assert lines[1] == (f"{images / '5_bomb.png'}: error: image 0 declares 8000x8000 pixels (1 frame(s)), "
                        "above serving.max_image_pixels=50000000")


def test_predict_sends_no_more_images_per_request_than_the_model_takes(images, tmp_path):
    """A model exported with serving.max_batch_images=2 refuses 3 images in one request; predict reads the
    limit from the model's imgpipe.json and sends 2 at a time, so every image is answered."""
    import dataclasses

    import tensorflow as tf

    from components.fs import write_json
    from components.trainer.spec import FACTS_SERVING_LIMITS, MODEL_FACTS_FILE, ServingLimits
    from schemas import features

    limits = ServingLimits(max_image_pixels=50_000_000, max_image_bytes=2**20, max_batch_images=2)
    model = save_colour_model(str(tmp_path / "export" / "model"), limits=limits)
    write_json(os.path.join(model, MODEL_FACTS_FILE), {FACTS_SERVING_LIMITS: dataclasses.asdict(limits)})
    predictor = Predictor(model, top_k=1)
    three = [str(p) for p in sorted(images.glob("[012]_*.png"))]
    with pytest.raises(tf.errors.InvalidArgumentError, match="above serving.max_batch_images=2"):
        predictor._serve(**{features.BYTES_INPUT: tf.constant([open(p, "rb").read() for p in three])})
    assert predictor.batch_size == 2
    assert [r.top[0][0] for r in predict_paths(predictor, three)] == ["red", "green", "blue"]
