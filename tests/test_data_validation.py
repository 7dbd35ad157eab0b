"""StatisticsGen's options (components/data_validation/component.py `statistics_options`), on real data.

A small image folder is ingested and TFX's own StatisticsGen executor runs on it twice on Beam's
DirectRunner: with the options the pipeline gives it, and with TFDV's treatment of the image feature as
a string (the options before). The image feature must get byte-size statistics and no top-k/uniques (the
counter that held every distinct image's bytes in memory); everything else SchemaGen and ExampleValidator
read must stay the same.
"""
import glob
import json
import os

import pytest

from tests.fixtures import make_colour_folder, run_example_gen, split_statistics

SPLITS = ("train", "validation", "test")


def _run_statistics_gen(examples, options_json: str, out_dir: str) -> dict:
    import apache_beam as beam
    from tfx.components.statistics_gen.executor import Executor
    from tfx.types import standard_artifacts

    out = standard_artifacts.ExampleStatistics()
    out.uri = out_dir
    context = Executor.Context(make_beam_pipeline_fn=lambda: beam.Pipeline(
        argv=["--direct_running_mode=in_memory", "--direct_num_workers=1"]))
    Executor(context).Do({"examples": [examples]}, {"statistics": [out]},
                         {"stats_options_json": options_json, "exclude_splits": json.dumps([])})
    return split_statistics(out_dir)


@pytest.fixture(scope="module")
def statistics(tmp_path_factory):
    """{"pipeline" | "as_string": {split: statistics}} and the ingested folder's largest file, in bytes."""
    import tensorflow_data_validation as tfdv

    from components.data_validation.component import create_data_validation
    from schemas.config import DataConfig

    root = tmp_path_factory.mktemp("stats")
    data = make_colour_folder(str(root / "data"), per_class=60, size=16)  # TFDV adds image statistics from 100 values
    examples = run_example_gen(data, str(root / "examples"))
    # The options exactly as the pipeline's StatisticsGen node carries them (JSON, the schema inside).
    nodes = create_data_validation(DataConfig(), examples=_examples_channel())
    pipeline_json = nodes.statistics_gen.exec_properties["stats_options_json"]
    as_string_json = tfdv.StatsOptions(enable_semantic_domain_stats=True).to_json()
    largest = max(os.path.getsize(p) for p in glob.glob(os.path.join(data, "*", "*")))
    return {"pipeline": _run_statistics_gen(examples, pipeline_json, str(root / "pipeline")),
            "as_string": _run_statistics_gen(examples, as_string_json, str(root / "as_string"))}, largest


def _examples_channel():
    from tfx.types import channel_utils, standard_artifacts
    return channel_utils.as_channel([standard_artifacts.Examples()])


def _features(stats_list) -> dict:
    return {f.path.step[0]: f for f in stats_list.datasets[0].features}


def test_the_image_feature_gets_byte_sizes_and_no_top_values(statistics):
    by_options, largest = statistics
    for split in SPLITS:
        image = _features(by_options["pipeline"][f"Split-{split}"])["image"]
        assert image.WhichOneof("stats") == "bytes_stats", split
        assert 0 < image.bytes_stats.max_num_bytes_int <= largest
        assert image.bytes_stats.common_stats.num_non_missing > 0
        before = _features(by_options["as_string"][f"Split-{split}"])["image"]
        assert before.WhichOneof("stats") == "string_stats" and before.string_stats.unique > 0  # what it replaces
    train = _features(by_options["pipeline"]["Split-train"])["image"]
    assert {c.name for c in train.custom_stats} >= {"domain_info", "image_format_histogram"}  # image stats stay on


def test_every_other_feature_gets_the_same_statistics(statistics):
    by_options, _ = statistics
    for split in SPLITS:
        new, old = (_features(by_options[k][f"Split-{split}"]) for k in ("pipeline", "as_string"))
        assert set(new) == set(old) and "label_name" in new
        for name in set(new) - {"image"}:
            assert new[name] == old[name], (split, name)
        assert new["image"].custom_stats == old["image"].custom_stats, split


def test_schemagen_infers_the_same_schema_and_the_validator_finds_the_same(statistics):
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    by_options, largest = statistics
    new, old = (by_options[k]["Split-train"] for k in ("pipeline", "as_string"))
    schema = tfdv.infer_schema(new, infer_feature_shape=True)
    assert schema == tfdv.infer_schema(old, infer_feature_shape=True)
    assert [f for f in schema.feature if f.name == "image"][0].WhichOneof("domain_info") == "image_domain"
    for split in SPLITS:
        anomalies = tfdv.validate_statistics(by_options["pipeline"][f"Split-{split}"], schema)
        assert dict(anomalies.anomaly_info) == dict(
            tfdv.validate_statistics(by_options["as_string"][f"Split-{split}"], schema).anomaly_info)

    # A curated schema's byte limit on images is now checked against the sizes TFDV keeps for them.
    curated = text_format.Parse(open("schemas/demo/schema.pbtxt").read(), schema_pb2.Schema())
    image = [f for f in curated.feature if f.name == "image"][0]
    image.image_domain.max_image_byte_size = largest - 1
    found = tfdv.validate_statistics(new, curated).anomaly_info
    assert "image" in found, dict(found)
    assert "byte" in found["image"].description.lower() or "size" in found["image"].description.lower()
    image.image_domain.max_image_byte_size = largest
    assert "image" not in tfdv.validate_statistics(new, curated).anomaly_info
