"""Behaviour of the embedded demo dataset: shape, determinism, learnability, safe caching."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from pipeline.local import demo_data
from pipeline.local.demo_data import COMPLETE_MARKER, DEMO_CLASSES, DEMO_VERSION, ensure_demo_data, generate_demo_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default-sized dataset, drawn once for the read-only tests."""
    return generate_demo_data(str(tmp_path_factory.mktemp("demo") / "data"))


@pytest.fixture
def small_demo(monkeypatch):
    """Makes `ensure_demo_data` draw a tiny dataset, so its caching tests stay fast."""
    monkeypatch.setattr(demo_data, "DEMO_PER_CLASS", 4)
    monkeypatch.setattr(demo_data, "DEMO_IMAGE_SIZE", 32)


def _files(root):
    """Relative path -> bytes for every file under `root`."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def _images(root, cls):
    folder = os.path.join(root, cls)
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))]


def _mtimes(root):
    return {path: os.stat(os.path.join(root, path)).st_mtime_ns for path in _files(root)}


def test_each_class_gets_its_own_folder_with_per_class_images(tmp_path):
    root = generate_demo_data(str(tmp_path / "data"), per_class=7, size=32)
    assert root == str(tmp_path / "data")
    assert sorted(os.listdir(root)) == sorted([COMPLETE_MARKER, *DEMO_CLASSES])
    for cls in DEMO_CLASSES:
        names = sorted(os.listdir(os.path.join(root, cls)))
        assert [n.rsplit(".", 1)[0] for n in names] == [f"{cls}_{i:04d}" for i in range(7)]
    assert os.listdir(tmp_path) == ["data"], "no temp folder may be left beside the dataset"


def test_images_decode_at_the_requested_size_as_png_and_jpeg(demo):
    kinds = []
    for cls in DEMO_CLASSES:
        for path in _images(demo, cls):
            with open(path, "rb") as f:
                head = f.read(8)
            kind = "png" if head.startswith(PNG_MAGIC) else "jpg" if head.startswith(JPEG_MAGIC) else "?"
            assert path.endswith("." + kind), f"{path} starts with {head!r}"
            with Image.open(path) as image:
                image.load()
                assert (image.size, image.mode) == ((48, 48), "RGB")
            kinds.append(kind)
    assert len(kinds) == 3 * 200
    assert kinds.count("jpg") == 3 * (200 // 3)  # every third image of each class


def test_same_arguments_give_byte_identical_files(tmp_path):
    first = generate_demo_data(str(tmp_path / "a"), per_class=6, size=32, seed=5)
    second = generate_demo_data(str(tmp_path / "b"), per_class=6, size=32, seed=5)
    assert _files(first) == _files(second)


def test_another_seed_gives_other_images(tmp_path):
    first = _files(generate_demo_data(str(tmp_path / "a"), per_class=3, size=32, seed=0))
    second = _files(generate_demo_data(str(tmp_path / "b"), per_class=3, size=32, seed=1))
    images = [path for path in first if not path.startswith(".")]
    assert all(first[path] != second[path] for path in images)


def test_an_image_does_not_depend_on_how_many_were_drawn(tmp_path):
    few = _files(generate_demo_data(str(tmp_path / "few"), per_class=3, size=32))
    many = _files(generate_demo_data(str(tmp_path / "many"), per_class=9, size=32))
    images = [path for path in few if not path.startswith(".")]
    assert len(images) == 9
    assert all(few[path] == many[path] for path in images)


def _shape_pixels(path):
    """Pixels far from the background colour, estimated as the median border pixel."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    distance = np.linalg.norm(rgb - np.median(border, axis=0), axis=-1)
    return distance > distance.max() / 2, rgb


def _compactness(path):
    """Shape area over the area of the circle around it: ~1 circle, ~0.64 square, ~0.41 triangle."""
    mask, _ = _shape_pixels(path)
    ys, xs = np.nonzero(mask)
    reach = np.hypot(ys - ys.mean(), xs - xs.mean()).max() + 0.5
    return mask.sum() / (np.pi * reach ** 2)


def _colours(path):
    """Mean colour of the shape, then of the background."""
    mask, rgb = _shape_pixels(path)
    return np.concatenate([rgb[mask].mean(axis=0), rgb[~mask].mean(axis=0)])


def _nearest_centroid_accuracy(features):
    """Fits class means on even-numbered images and scores the odd-numbered ones."""
    centroids = {cls: np.mean(rows[0::2], axis=0) for cls, rows in features.items()}
    hits = total = 0
    for cls, rows in features.items():
        for row in rows[1::2]:
            guess = min(centroids, key=lambda c: np.linalg.norm(np.asarray(row) - centroids[c]))
            hits, total = hits + (guess == cls), total + 1
    return hits / total


def test_shape_not_colour_tells_the_classes_apart(demo):
    """A model must learn the shape: a crude shape measure separates the classes, colour does not."""
    shape = {cls: [[_compactness(p)] for p in _images(demo, cls)] for cls in DEMO_CLASSES}
    colour = {cls: [_colours(p) for p in _images(demo, cls)] for cls in DEMO_CLASSES}
    chance = 1 / len(DEMO_CLASSES)
    assert _nearest_centroid_accuracy(shape) > chance + 0.45
    assert _nearest_centroid_accuracy(colour) < chance + 0.2


def test_ensure_reuses_a_complete_dataset_without_redrawing(tmp_path, monkeypatch, small_demo):
    root = ensure_demo_data(str(tmp_path))
    assert root == str(tmp_path / f"demo-v{DEMO_VERSION}")
    before = _mtimes(root)

    def must_not_draw(*args, **kwargs):
        raise AssertionError("a complete dataset was drawn again")
    monkeypatch.setattr(demo_data, "_write_dataset", must_not_draw)
    assert ensure_demo_data(str(tmp_path)) == root
    assert _mtimes(root) == before


def test_ensure_defaults_to_the_imgpipe_cache_folder(tmp_path, monkeypatch, small_demo):
    monkeypatch.setenv("IMGPIPE_CACHE", str(tmp_path / "cache"))
    assert ensure_demo_data() == str(tmp_path / "cache" / f"demo-v{DEMO_VERSION}")
    assert demo_data.is_complete(ensure_demo_data())


def test_an_interrupted_generation_leaves_nothing_to_trust(tmp_path, monkeypatch, small_demo):
    calls = []
    real_draw = demo_data.draw_shape_image

    def dies_midway(*args):
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return real_draw(*args)
    monkeypatch.setattr(demo_data, "draw_shape_image", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        ensure_demo_data(str(tmp_path))
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(demo_data, "draw_shape_image", real_draw)
    assert demo_data.is_complete(ensure_demo_data(str(tmp_path)))


def test_ensure_draws_afresh_beside_leftovers_of_a_killed_run(tmp_path, small_demo):
    """A killed run leaves its temp folder; it is never used, and removed once clearly stale."""
    stale = tmp_path / f".demo-v{DEMO_VERSION}.partial-4242-dead"
    fresh = tmp_path / f".demo-v{DEMO_VERSION}.partial-4343-busy"
    for leftover in (stale, fresh):
        (leftover / "circle").mkdir(parents=True)
        (leftover / "circle" / "circle_0000.png").write_bytes(PNG_MAGIC)
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))

    root = ensure_demo_data(str(tmp_path))
    assert demo_data.is_complete(root)
    assert len(os.listdir(os.path.join(root, "circle"))) == demo_data.DEMO_PER_CLASS
    assert not stale.exists(), "a stale leftover should be cleaned up"
    assert fresh.exists(), "a recent temp folder may belong to a run still in progress"


def test_an_unrelated_folder_at_the_destination_is_left_untouched(tmp_path):
    dest = tmp_path / "my-photos"
    (dest / "cats").mkdir(parents=True)
    (dest / "cats" / "tom.jpg").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match="my-photos"):
        generate_demo_data(str(dest), per_class=3, size=32)
    assert _files(dest) == {os.path.join("cats", "tom.jpg"): b"not ours"}
    assert os.listdir(tmp_path) == ["my-photos"]


def test_demo_data_of_other_parameters_is_not_replaced(tmp_path):
    dest = generate_demo_data(str(tmp_path / "data"), per_class=3, size=32)
    before = _files(dest)
    with pytest.raises(FileExistsError, match="other parameters"):
        generate_demo_data(dest, per_class=4, size=32)
    assert _files(dest) == before


def test_an_empty_destination_folder_is_filled(tmp_path):
    (tmp_path / "data").mkdir()
    assert demo_data.is_complete(generate_demo_data(str(tmp_path / "data"), per_class=3, size=32))


def test_module_does_not_import_tensorflow():
    """The CLI draws demo data before the (slow) TensorFlow import, and tests stay fast."""
    code = "import sys, pipeline.local.demo_data; sys.exit('tensorflow' in sys.modules)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
