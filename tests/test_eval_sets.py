"""What the Evaluator judges (components/image_example_gen/eval_sets.py): the newest span's test split,
and the golden folder (`data.golden_dir`) as a split of its own, never trained on."""
import json
import os

import pytest

from components.image_example_gen import ImageFolderError
from components.image_example_gen.eval_sets import hash_split, newest_span_test_only, scan_golden_folder
from components.image_example_gen.spans import SpanFolder, scan_span_folders
from components.image_example_gen import spec as gen_spec
from schemas import features
from tests.fixtures import make_colour_folder, make_span_folders, read_splits, run_example_gen

SPLITS = [("train", 70), ("validation", 10), ("test", 20)]


def test_hash_split_is_the_split_tfx_partitions_an_image_into():
    import tensorflow as tf
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    config = example_gen_pb2.SplitConfig(partition_feature_name=features.PATH_KEY)
    ends = [70, 80, 100]
    paths = [f"round-{i % 4}/cat/{i:04d}.png" for i in range(300)] + ["é/ü.png", "x" * 200 + "/a.jpg"]
    for path in paths:
        example = tf.train.Example()
        example.features.feature[features.PATH_KEY].bytes_list.value.append(path.encode())
        assert hash_split(path, SPLITS) == SPLITS[_PartitionFn(example, 3, ends, config)][0], path


def test_older_spans_keep_train_and_validation_but_their_test_images_go(tmp_path):
    make_span_folders(str(tmp_path), ["round-1", "round-2"], per_class=10, size=16)
    folders = [SpanFolder("round-1", 1), SpanFolder("round-2", 2)]
    scan = scan_span_folders(str(tmp_path), folders)
    kept = newest_span_test_only(scan, "round-2", SPLITS)
    dropped = {f.rel_path for f in scan.files} - {f.rel_path for f in kept.files}
    assert dropped and all(p.startswith("round-1/") and hash_split(p, SPLITS) == "test" for p in dropped)
    newest_test = [f for f in kept.files if f.rel_path.startswith("round-2/") and hash_split(f.rel_path, SPLITS) == "test"]
    assert newest_test and len(kept.files) == len(scan.files) - len(dropped)


@pytest.fixture
def data_and_golden(tmp_path):
    data = make_colour_folder(str(tmp_path / "data"), per_class=5, size=16, seed=1)
    golden = make_colour_folder(str(tmp_path / "golden"), per_class=2, size=16, seed=2)
    return data, golden


def test_the_golden_folder_is_labelled_with_the_training_classes(data_and_golden):
    data, golden = data_and_golden
    scan = scan_golden_folder(golden, data, ["blue", "green", "red", "yellow"])
    assert scan.root == os.path.dirname(golden) and len(scan.files) == 6
    assert {(f.rel_path.split("/")[1], f.label) for f in scan.files} == {("blue", 0), ("green", 1), ("red", 2)}
    assert all(f.rel_path.startswith("golden/") for f in scan.files)


@pytest.mark.parametrize("where", ["inside", "same", "holds"])
def test_a_golden_folder_overlapping_the_data_root_is_refused(data_and_golden, tmp_path, where):
    data, _ = data_and_golden
    golden = {"inside": os.path.join(data, "red"), "same": data + "/", "holds": str(tmp_path)}[where]
    with pytest.raises(ImageFolderError, match=r"^data\.golden_dir=.* overlaps the data root .*Move the golden"):
        scan_golden_folder(golden, data, ["blue", "green", "red"])


def test_a_golden_class_the_training_data_lacks_is_refused(data_and_golden):
    data, golden = data_and_golden
    with pytest.raises(ImageFolderError, match=r"class folder\(s\) red are not classes of the training data "
                                               r"\(blue, green\)"):
        scan_golden_folder(golden, data, ["blue", "green"])


def test_an_empty_golden_folder_is_refused(data_and_golden, tmp_path):
    data, _ = data_and_golden
    empty = tmp_path / "empty"
    (empty / "red").mkdir(parents=True)
    with pytest.raises(ImageFolderError, match=r"holds no image files in class folders.*data\.golden_dir=''"):
        scan_golden_folder(str(empty), data, ["blue", "green", "red"])
    with pytest.raises(ImageFolderError, match="data folder not found"):
        scan_golden_folder(str(tmp_path / "missing"), data, ["blue", "green", "red"])


def test_the_example_gen_writes_the_newest_test_split_and_a_golden_split(tmp_path):
    """Two spans in the window and a golden folder: test from round-2 only, golden on its own, all tagged."""
    root = make_span_folders(str(tmp_path / "data"), ["round-1", "round-2"], per_class=10, size=16)
    golden = make_colour_folder(str(tmp_path / "golden"), per_class=2, size=16, seed=5)
    examples = run_example_gen(root, tmp_path / "out", span_pattern="round-{SPAN}", window_spans=2,
                               golden_dir=golden)
    splits = read_splits(examples)
    paths = {split: [e.features.feature[features.PATH_KEY].bytes_list.value[0].decode() for e in rows]
             for split, rows in splits.items()}
    assert set(paths) == {"train", "validation", "test", "golden"}
    assert paths["test"] and all(p.startswith("round-2/") for p in paths["test"])
    assert any(p.startswith("round-1/") for p in paths["train"] + paths["validation"])
    assert sorted(paths["golden"]) == sorted(f"golden/{c}/{c}_{i:03d}.{'jpg' if i == 0 else 'png'}"
                                             for c in ("blue", "green", "red") for i in range(2))
    assert not any(p.startswith("golden/") for s in ("train", "validation", "test") for p in paths[s])
    for split, rows in splits.items():
        assert {e.features.feature[features.SPLIT_KEY].bytes_list.value[0].decode() for e in rows} == {split}
    with open(os.path.join(examples.uri, gen_spec.MANIFEST_FILE)) as f:
        manifest = json.load(f)
    assert manifest["golden"]["num_examples"] == 6 and manifest["golden"]["dir"] == golden
    assert manifest["num_examples"] == sum(len(paths[s]) for s in ("train", "validation", "test"))


def test_the_flat_layout_keeps_its_three_hash_splits_and_gains_the_golden_one(tmp_path):
    root = make_colour_folder(str(tmp_path / "data"), per_class=6, size=16, seed=3)
    golden = make_colour_folder(str(tmp_path / "gold"), per_class=1, size=16, seed=4)
    splits = read_splits(run_example_gen(root, tmp_path / "out", golden_dir=golden))
    paths = {split: sorted(e.features.feature[features.PATH_KEY].bytes_list.value[0].decode() for e in rows)
             for split, rows in splits.items()}
    assert paths.pop("golden") == ["gold/blue/blue_000.jpg", "gold/green/green_000.jpg", "gold/red/red_000.jpg"]
    assert sum(len(p) for p in paths.values()) == 18  # every image of the data root, in its hash split
    assert all(hash_split(p, SPLITS) == split for split, ps in paths.items() for p in ps)


def test_the_gate_threshold_is_judged_on_all_images_and_golden_is_a_slice():
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_types

    from components.evaluator.component import judged_splits, make_eval_config
    from components.evaluator.gate_metric import GATE_METRIC
    from schemas.config import build_config

    config = make_eval_config(build_config().eval, golden=True)
    assert judged_splits(True) == ["test", "golden"] and judged_splits(False) == ["test"]
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], [features.SPLIT_KEY]]
    key = metric_types.MetricKey(name=GATE_METRIC, model_name="candidate")
    overall = metrics_validator.validate_metrics(((), {key: 0.0}), config)
    golden_slice = metrics_validator.validate_metrics(((((features.SPLIT_KEY, "golden"),), {key: 0.0})), config)
    assert not overall.validation_ok and golden_slice.validation_ok
    assert tfma.SlicingSpec() in make_eval_config(build_config().eval).slicing_specs


def test_the_summary_shows_the_golden_figure():
    from pipeline.history.summary import RunSummary, format_summary

    text = format_summary(RunSummary(golden={"accuracy": 0.95, "images": 40, "served": 0.925}))
    assert "Golden set: accuracy 0.950 (40 images), served model 0.925" in text
    text = format_summary(RunSummary(golden={"accuracy": 1.0, "images": 6, "served": None}))
    assert "Golden set: accuracy 1.000 (6 images)\n" in text


def imgpipe_run(*args):
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-m", "pipeline", "run", *args], cwd=repo, capture_output=True,
                          text=True, timeout=120)


def test_imgpipe_run_refuses_a_bad_golden_folder_or_schema_before_anything_runs(data_and_golden, tmp_path):
    data, golden = data_and_golden
    result = imgpipe_run("--data", data, "--output", str(tmp_path / "o"), "--set", f"data.golden_dir={data}/red")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"data.golden_dir={data}/red overlaps the data root {data}" in result.stderr
    result = imgpipe_run("--data", data, "--output", str(tmp_path / "o"), "--set", f"data.golden_dir={golden}",
                         "--set", "data.schema_path=schemas/demo/schema.pbtxt")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert ("data.golden_dir needs the feature 'split' in the curated schema schemas/demo/schema.pbtxt "
            "(data.schema_path): add feature { name: \"split\"") in result.stderr
    assert not os.path.exists(tmp_path / "o" / "pipeline_root")
