"""The image-folder ExampleGen, run for real: Beam DirectRunner in, gzip TFRecords out.

Fixtures are tiny images generated with Pillow in tmp folders.
"""
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from components.image_example_gen import (
    BadImageError,
    ImageFile,
    ImageFolderError,
    probe_image,
    read_image,
    scan_image_folder,
)
from components.image_example_gen import spec as gen_spec
from schemas import features
from tests.fixtures import SPLITS, ingest_limits, read_splits, run_example_gen, save_image


def _value(example, key):
    feature = example.features.feature[key]
    if feature.HasField("int64_list"):
        return feature.int64_list.value[0]
    value = feature.bytes_list.value[0]
    return value if key == features.IMAGE_KEY else value.decode("utf-8")


def _split_of_path(examples):
    return {_value(e, features.PATH_KEY): split for split, rows in read_splits(examples).items() for e in rows}


# --------------------------------------------------------------------------- a small mixed folder

# rel_path -> (Pillow format written, size (w, h), expected format, expected label name)
SMALL = {
    "cat/a.png": ("PNG", (8, 6), "png", "cat"),
    "cat/b.JPG": ("PNG", (5, 9), "png", "cat"),            # a PNG with a .JPG name
    "cat/nested/deeper/c.gif": ("GIF", (7, 3), "gif", "cat"),
    "dog/d.jpeg": ("JPEG", (16, 12), "jpeg", "dog"),
    "dog/e.bmp": ("BMP", (4, 10), "bmp", "dog"),
    "dog/f.png": ("JPEG", (6, 6), "jpeg", "dog"),          # a JPEG with a .png name
}


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "data"
    for i, (rel, (fmt, size, _, _)) in enumerate(SMALL.items()):
        save_image(root / rel, fmt, size, color=(i * 40, 100, 200))
    save_image(root / "dog" / ".hidden.png")
    (root / "dog" / "readme.txt").write_text("not an image")
    (root / ".cache").mkdir()
    (root / "notes.txt").write_text("loose file at the root")
    return root


@pytest.fixture(scope="module")
def small_run(small_folder, tmp_path_factory):
    examples = run_example_gen(small_folder, tmp_path_factory.mktemp("small_out") / "examples")
    return examples, read_splits(examples)


def test_every_image_lands_in_exactly_one_split_with_its_features(small_folder, small_run):
    _, splits = small_run
    rows = [e for split in SPLITS for e in splits[split]]
    by_path = {_value(e, features.PATH_KEY): e for e in rows}
    assert len(rows) == len(by_path) == len(SMALL)
    for rel, (_, (width, height), fmt, class_name) in SMALL.items():
        example = by_path[rel]
        assert _value(example, features.LABEL_NAME_KEY) == class_name
        assert _value(example, features.LABEL_KEY) == ["cat", "dog"].index(class_name)
        assert (_value(example, features.HEIGHT_KEY), _value(example, features.WIDTH_KEY)) == (height, width)
        assert _value(example, features.FORMAT_KEY) == fmt
        assert _value(example, features.IMAGE_KEY) == (small_folder / rel).read_bytes()


def test_an_example_holds_one_value_per_feature_with_the_file_name_bytes_kept():
    import tensorflow as tf
    from components.image_example_gen import to_tf_example
    record = {features.IMAGE_KEY: b"\xff\xd8 jpeg bytes", features.LABEL_KEY: 2, features.LABEL_NAME_KEY: "chat",
              features.PATH_KEY: "chat/caf\udce9.jpg", features.HEIGHT_KEY: 24, features.WIDTH_KEY: 32,
              features.FORMAT_KEY: "jpeg"}
    example = tf.train.Example.FromString(to_tf_example(record).SerializeToString())
    values = {key: list(getattr(f, f.WhichOneof("kind")).value) for key, f in example.features.feature.items()}
    assert values == {features.IMAGE_KEY: [b"\xff\xd8 jpeg bytes"], features.LABEL_KEY: [2],
                      features.LABEL_NAME_KEY: [b"chat"], features.PATH_KEY: [b"chat/caf\xe9.jpg"],
                      features.HEIGHT_KEY: [24], features.WIDTH_KEY: [32], features.FORMAT_KEY: [b"jpeg"]}


def test_format_is_detected_from_content_not_extension(small_run):
    _, splits = small_run
    formats = {_value(e, features.PATH_KEY): _value(e, features.FORMAT_KEY) for rows in splits.values() for e in rows}
    assert formats["cat/b.JPG"] == "png"
    assert formats["dog/f.png"] == "jpeg"


def test_hidden_and_non_image_files_are_skipped_and_listed_in_the_manifest(small_folder, small_run):
    examples, splits = small_run
    paths = {_value(e, features.PATH_KEY) for rows in splits.values() for e in rows}
    assert not any(".hidden" in p or p.endswith(".txt") for p in paths)
    with open(os.path.join(examples.uri, gen_spec.MANIFEST_FILE)) as f:
        manifest = json.load(f)
    skipped = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == {"dog/.hidden.png", "dog/readme.txt", ".cache", "notes.txt"}
    assert "hidden" in skipped["dog/.hidden.png"]
    assert manifest["data_root"] == str(small_folder)
    assert manifest["class_names"] == ["cat", "dog"]
    assert manifest["class_counts"] == {"cat": 3, "dog": 3}
    assert manifest["num_examples"] == len(SMALL)


def test_labels_file_has_one_class_per_line_in_label_order(small_run):
    examples, _ = small_run
    with open(os.path.join(examples.uri, gen_spec.LABELS_FILE)) as f:
        assert f.read().splitlines() == ["cat", "dog"]


def test_artifact_records_splits_label_names_and_count(small_run):
    from tfx.types import artifact_utils
    examples, _ = small_run
    assert artifact_utils.decode_split_names(examples.split_names) == SPLITS
    assert json.loads(examples.get_string_custom_property("label_names")) == ["cat", "dog"]
    assert examples.get_int_custom_property("num_examples") == len(SMALL)
    assert examples.get_int_custom_property("num_quarantined") == 0
    assert sorted(os.listdir(examples.uri)) == sorted(
        [gen_spec.LABELS_FILE, gen_spec.MANIFEST_FILE, gen_spec.QUARANTINE_FILE, "Split-test", "Split-train", "Split-validation"])
    with open(os.path.join(examples.uri, gen_spec.QUARANTINE_FILE)) as f:
        assert json.load(f) == []


# --------------------------------------------------------------------------- splits on ~200 files

def _fill(root, start, count):
    for i in range(start, start + count):
        save_image(root / ("ant" if i % 2 else "bee") / f"img_{i:04d}.png", color=(i % 256, 0, 0))


@pytest.fixture(scope="module")
def split_runs(tmp_path_factory):
    """Two runs on the same 200 files, then a third after adding 40 more."""
    root = tmp_path_factory.mktemp("many") / "data"
    out = tmp_path_factory.mktemp("many_out")
    _fill(root, 0, 200)
    first = _split_of_path(run_example_gen(root, out / "first"))
    second = _split_of_path(run_example_gen(root, out / "second"))
    _fill(root, 200, 40)
    grown = _split_of_path(run_example_gen(root, out / "grown"))
    return first, second, grown


def test_split_of_each_file_is_the_same_on_every_run(split_runs):
    first, second, _ = split_runs
    assert len(first) == 200
    assert first == second


def test_adding_files_does_not_move_existing_files_between_splits(split_runs):
    first, _, grown = split_runs
    assert len(grown) == 240
    assert {path: grown[path] for path in first} == first


def test_each_split_share_is_close_to_the_configured_percent(split_runs):
    first, _, _ = split_runs
    share = {split: sum(s == split for s in first.values()) / len(first) for split in SPLITS}
    assert 0.12 <= share["test"] <= 0.28, share  # 20% of 200 files: sd is 2.8 points
    assert 0.03 <= share["validation"] <= 0.17, share  # 10%: sd 2.1 points
    assert abs(share["train"] - 0.7) <= 0.1, share


# --------------------------------------------------------------------------- errors

def test_a_file_that_is_not_an_image_is_quarantined_and_the_rest_ingested(tmp_path):
    save_image(tmp_path / "data" / "cat" / "ok.png")
    save_image(tmp_path / "data" / "dog" / "ok.png")
    (tmp_path / "data" / "dog" / "broken.jpg").write_text("this is text, not a JPEG")
    examples = run_example_gen(tmp_path / "data", tmp_path / "out", limits=ingest_limits(max_bad_fraction=0.5))
    assert sorted(_split_of_path(examples)) == ["cat/ok.png", "dog/ok.png"]
    with open(os.path.join(examples.uri, gen_spec.QUARANTINE_FILE)) as f:
        (entry,) = json.load(f)
    assert entry["path"] == str(tmp_path / "data" / "dog" / "broken.jpg")
    assert "not JPEG, PNG, GIF or BMP" in entry["reason"] and entry["size_bytes"] == 24


def test_a_bad_folder_fails_before_beam_starts(tmp_path):
    with pytest.raises(ImageFolderError, match="data folder not found"):
        run_example_gen(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _layout(root, files):
    root.mkdir(parents=True, exist_ok=True)
    for rel in files:
        save_image(root / rel)
    return root


@pytest.mark.parametrize("files, message", [
    (["a.png", "b.png"], "no class sub-folders"),
    (["cat/a.png"], "only one class folder .'cat'. .* at least 2"),
])
def test_folder_that_cannot_train_a_classifier_is_rejected(tmp_path, files, message):
    root = _layout(tmp_path / "data", files)
    with pytest.raises(ImageFolderError, match=message) as error:
        scan_image_folder(str(root))
    assert str(root) in str(error.value)


@pytest.mark.parametrize("folder", ["cir\ncle", "circle\r"])
def test_a_class_folder_whose_name_labels_txt_cannot_carry_is_refused_by_name(tmp_path, folder):
    """labels.txt is read line by line: 'cir\ncle' would shift every later class name by one."""
    root = _layout(tmp_path / "data", [f"{folder}/a.png", "square/b.png", "triangle/c.png"])
    with pytest.raises(ImageFolderError, match="class folder name holds a line break") as error:
        scan_image_folder(str(root))
    assert repr(str(root / folder)) in str(error.value) and "\n" not in str(error.value)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ImageFolderError, match="data folder not found: " + str(tmp_path / "nope")):
        scan_image_folder(str(tmp_path / "nope"))


def test_a_file_given_as_data_folder_is_rejected(tmp_path):
    path = save_image(tmp_path / "image.png")
    with pytest.raises(ImageFolderError, match="not a folder: " + str(path)):
        scan_image_folder(str(path))


def test_class_folder_without_images_stays_a_class_unless_empty_classes_are_skipped(tmp_path):
    """The scan reads no file: whether a class has enough images is the ingestion limits' call."""
    root = _layout(tmp_path / "data", ["cat/a.png", "dog/b.png"])
    (root / "empty_class").mkdir()
    (root / "empty_class" / "notes.txt").write_text("x")
    scan = scan_image_folder(str(root))
    assert scan.class_names == ["cat", "dog", "empty_class"] and scan.empty_classes() == ["empty_class"]
    skipping = scan_image_folder(str(root), skip_empty_classes=True)
    assert skipping.class_names == ["cat", "dog"]
    assert ("empty_class", "class folder without image files: not used as a class") in skipping.skipped


def test_unreadable_file_is_named_with_the_os_error(tmp_path):
    root = _layout(tmp_path / "data", ["cat/a.png", "dog/b.png"])
    scan = scan_image_folder(str(root))
    (root / "dog" / "b.png").unlink()  # gone between the scan and the read
    with pytest.raises(ImageFolderError, match=r"cannot read image file .*dog/b\.png.*No such file"):
        read_image(str(root), scan.files[1])


def test_scan_lists_classes_sorted_and_labels_by_index(tmp_path):
    root = _layout(tmp_path / "data", ["zebra/z.png", "ant/a.png", "ant/sub/b.jpg", "moth/m.gif"])
    scan = scan_image_folder(str(root))
    assert scan.class_names == ["ant", "moth", "zebra"]
    assert scan.files == [ImageFile("ant/a.png", 0, "ant"), ImageFile("ant/sub/b.jpg", 0, "ant"),
                          ImageFile("moth/m.gif", 1, "moth"), ImageFile("zebra/z.png", 2, "zebra")]


def test_a_tf_io_gfile_path_is_scanned_and_read_like_a_local_one():
    import io

    import tensorflow as tf

    root = "ram://image_example_gen_test/data"
    for rel, fmt in [("cat/a.png", "PNG"), ("cat/sub/b.jpg", "JPEG"), ("dog/c.gif", "GIF")]:
        encoded = io.BytesIO()
        Image.new("RGB", (5, 4)).save(encoded, format=fmt)
        tf.io.gfile.makedirs(f"{root}/{rel.rsplit('/', 1)[0]}")
        with tf.io.gfile.GFile(f"{root}/{rel}", "wb") as f:
            f.write(encoded.getvalue())
    scan = scan_image_folder(root)
    assert [(f.rel_path, f.label) for f in scan.files] == [("cat/a.png", 0), ("cat/sub/b.jpg", 0), ("dog/c.gif", 1)]
    record = read_image(root, scan.files[1])
    assert (record[features.FORMAT_KEY], record[features.HEIGHT_KEY], record[features.WIDTH_KEY]) == ("jpeg", 4, 5)


# --------------------------------------------------------------------------- probing one image

@pytest.mark.parametrize("fmt, expected", [("JPEG", "jpeg"), ("PNG", "png"), ("GIF", "gif"), ("BMP", "bmp")])
def test_probe_reads_format_and_size_from_the_header(tmp_path, fmt, expected):
    data = save_image(tmp_path / "x", fmt, size=(11, 7)).read_bytes()
    assert probe_image(data) == (expected, 7, 11)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"hello, world", "not JPEG, PNG, GIF or BMP"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG header cannot be parsed"),
])
def test_probe_rejects_what_is_not_a_parsable_image(data, reason):
    with pytest.raises(BadImageError, match=reason):
        probe_image(data)


# --------------------------------------------------------------------------- wiring

def test_component_splits_by_path_hash_into_the_configured_percent():
    from tfx import v1 as tfx
    from tfx.utils import proto_utils

    from components.image_example_gen import create_image_example_gen
    from schemas.config import DataConfig

    component = create_image_example_gen(DataConfig(validation_percent=15, test_percent=25), "/data/images")
    output_config = proto_utils.json_to_proto(component.exec_properties["output_config"], tfx.proto.Output())
    assert output_config.split_config.partition_feature_name == features.PATH_KEY
    assert [(s.name, s.hash_buckets) for s in output_config.split_config.splits] == [
        ("train", 60), ("validation", 15), ("test", 25)]
    param = tfx.dsl.experimental.RuntimeParameter(name="data_root", ptype=str, default="/data")
    assert create_image_example_gen(DataConfig(), param).exec_properties["input_base"] is param
    with pytest.raises(ValueError, match="test_percent"):
        create_image_example_gen(DataConfig(validation_percent=10, test_percent=0), "/data/images")


def test_folder_module_imports_without_tensorflow():
    code = ("import sys, components.image_example_gen as g; "
            "assert 'tensorflow' not in sys.modules and 'apache_beam' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_records_are_written_with_the_classes_mixed_and_as_tfx_writes_them(tmp_path):
    """Nothing shuffles the records before they are written (TFX's in-memory shuffle is skipped): the files
    are read in an order mixed by a hash of their paths, so a split is not written class by class."""
    import glob

    import tensorflow as tf
    from tfx.components.util import examples_utils
    from tfx.proto import example_gen_pb2

    for name in ("ant", "bee"):
        for i in range(30):
            save_image(tmp_path / "data" / name / f"{i:02d}.png", color=(7 * i, 100 if name == "ant" else 0, 50))
    examples = run_example_gen(tmp_path / "data", tmp_path / "out" / "examples")
    files = glob.glob(os.path.join(examples.uri, "Split-train", "*"))
    assert [os.path.basename(f) for f in files] == ["data_tfrecord-00000-of-00001.gz"]
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = [tf.train.Example.FromString(r).features.feature[features.LABEL_KEY].int64_list.value[0]
              for r in records]
    assert sorted(set(labels)) == [0, 1] and sum(a != b for a, b in zip(labels, labels[1:])) >= 8
    assert all(tf.train.Example.FromString(r).SerializeToString(deterministic=True) == r for r in records)
    assert examples_utils.get_payload_format(examples) == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert sorted(json.loads(examples.split_names)) == sorted(SPLITS)


def test_records_are_gzip_stored_not_deflated_and_read_back_by_tfx(tmp_path):
    """Deflating already-compressed images costs 2x their decode for <1% of the bytes: the files are gzip in
    deflate's stored mode. Any gzip reader reads them (Python's gzip, TF's reader, TFX's TFXIO), and
    writing the same folder twice gives the same bytes."""
    import glob
    import gzip
    import zlib

    import apache_beam as beam
    import tensorflow as tf
    from tfx.components.util import tfxio_utils

    from tests.fixtures import make_colour_folder

    data = make_colour_folder(str(tmp_path / "data"), per_class=12, size=24)
    outs = [run_example_gen(data, tmp_path / f"out{i}" / "examples") for i in range(2)]
    for split in SPLITS:
        files = [glob.glob(os.path.join(o.uri, f"Split-{split}", "*.gz")) for o in outs]
        assert len(files[0]) == 1 and open(files[0][0], "rb").read() == open(files[1][0], "rb").read(), split
        raw = open(files[0][0], "rb").read()
        stream = gzip.decompress(raw)
        records = [r.numpy() for r in tf.data.TFRecordDataset(files[0], compression_type="GZIP")]
        assert records and len(stream) == sum(len(r) + 16 for r in records)  # TFRecord framing: 16 bytes a record
        # Stored, not deflated: the file is the whole stream plus gzip's header and trailer (18 bytes) and
        # deflate's block headers; deflate would have shrunk it (feature names repeat in every record).
        assert len(stream) + 18 <= len(raw) < len(stream) + 18 + 64 and len(zlib.compress(stream, 6)) < len(stream)
        counted = tmp_path / f"{split}.count"
        with beam.Pipeline() as pipeline:  # what StatisticsGen and the Evaluator read through
            _ = (pipeline | tfxio_utils.get_split_tfxio([outs[0]], split, telemetry_descriptors=["test"]).BeamSource()
                 | beam.Map(lambda batch: batch.num_rows) | beam.CombineGlobally(sum)
                 | beam.Map(lambda n: counted.write_text(str(n))))
        assert int(counted.read_text()) == len(records), split
