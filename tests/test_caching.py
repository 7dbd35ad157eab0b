"""Caching's safety nets without running the pipeline: the data fingerprint, and what create_pipeline
puts into the nodes' settings (the cache key) with and without a RunCache. The cached runs themselves
are in test_pipeline_e2e.py (an unchanged re-run, a file rewritten in place, a changed eval knob)."""
import json
import os

import pytest

from components.fs import folder_fingerprint
from pipeline.local.caching import RunCache
from schemas.config import build_config
from tests.fixtures import make_colour_folder


@pytest.fixture()
def folder(tmp_path):
    return make_colour_folder(str(tmp_path / "data"), per_class=2)


def test_the_fingerprint_changes_with_a_file_rewritten_in_place_and_nothing_else(folder):
    before = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == before
    path = os.path.join(folder, "red", "red_001.png")
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # same name, same size, new mtime
    assert folder_fingerprint(folder) != before


def test_the_fingerprint_survives_what_ingestion_quarantines(folder):
    """A broken link and a non-UTF-8 name are counted, not followed or decoded: no crash before ingestion."""
    os.symlink(os.path.join(folder, "missing.png"), os.path.join(folder, "red", "broken.png"))
    before = folder_fingerprint(folder)
    with open(os.path.join(folder.encode(), b"red", b"bad\xff.png"), "wb") as f:
        f.write(b"not an image")
    assert folder_fingerprint(folder) != before


def node_properties(pipeline, node_id):
    return next(c for c in pipeline.components if c.id == node_id).exec_properties


def test_a_cached_pipeline_keys_each_node_on_what_it_depends_on(tmp_path):
    from pipeline.pipeline import create_pipeline
    cfg = build_config(overrides=["eval.min_accuracy=0.5", "serving.keep_versions=2"])
    args = dict(data_root="/data", pipeline_root=str(tmp_path), serving_model_dir=str(tmp_path / "serving"))
    cached = create_pipeline(cfg, cache=RunCache(run_token="token-1", data_fingerprint="abc123"), **args)
    assert cached.enable_cache is True
    assert node_properties(cached, "ServedModelBaseline")["run_token"] == "token-1"
    assert node_properties(cached, "ImageDataValidator")["run_token"] == "token-1"
    assert '\\"content_fingerprint\\": \\"abc123\\"' in node_properties(cached, "ImageExampleGen")["custom_config"]
    trainer = json.loads(json.loads(node_properties(cached, "Trainer")["custom_config"])["settings"])
    # eval.* and serving.keep_versions are not in it, so changing them does not retrain; the request limits
    # are (the signatures carry them), resolved from the ingestion limits
    assert set(trainer) == {"train", "model", "augment", "model_name", "warmup_images", "limits"}
    assert (trainer["model_name"], trainer["warmup_images"]) == ("image_classifier", 4)
    assert trainer["limits"] == {"max_image_pixels": 50_000_000, "max_image_bytes": 50 * 2**20, "max_batch_images": 1000}

    uncached = create_pipeline(cfg, **args)  # the Kubeflow compile: no per-run token, so no cache
    assert uncached.enable_cache is False
    assert node_properties(uncached, "ServedModelBaseline")["run_token"] == ""
    assert '\\"content_fingerprint\\": \\"\\"' in node_properties(uncached, "ImageExampleGen")["custom_config"]


def test_the_new_data_check_is_keyed_on_the_data_and_the_served_model_not_on_the_run(tmp_path):
    """Every span-pipeline node takes NewDataCheck's output (the Cond's input): a per-run token there
    would re-run everything on every run; keyed on what its answer depends on, it is reused only while
    the answer holds."""
    from pipeline.pipeline import create_pipeline
    cfg = build_config(overrides=["data.span_pattern=round-{SPAN}"])
    args = dict(data_root="/data", pipeline_root=str(tmp_path), serving_model_dir=str(tmp_path / "serving"))

    def token(**cache):
        pipeline = create_pipeline(cfg, cache=RunCache(**cache), **args)
        return node_properties(pipeline, "NewDataCheck")["state_token"]

    same = token(run_token="run-1", data_fingerprint="abc", served_model="/s/1")
    assert token(run_token="run-2", data_fingerprint="abc", served_model="/s/1") == same
    assert token(run_token="run-2", data_fingerprint="abd", served_model="/s/1") != same
    assert token(run_token="run-2", data_fingerprint="abc", served_model="/s/2") != same


def test_run_enable_cache_is_a_boolean_knob():
    from schemas.config import ConfigError
    assert build_config().run.enable_cache is True
    assert build_config(overrides=["run.enable_cache=false"]).run.enable_cache is False
    with pytest.raises(ConfigError, match="run.enable_cache"):
        build_config(overrides=["run.enable_cache=sometimes"])
