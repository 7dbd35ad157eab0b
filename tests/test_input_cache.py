"""The Trainer's input cache (components/trainer/input_cache.py): decoded images stay in memory when they fit
train.cache_max_mb, else in a local file under train.disk_cache_dir, so no epoch after the first decodes JPEG."""
import glob
import os
import shutil

import numpy as np
import pytest

from components.trainer.input_cache import plan_cache
from schemas.config import ConfigError, build_config
from tests.fixtures import make_colour_folder, run_example_gen


def train_config(*overrides):
    return build_config(overrides=list(overrides)).train


def test_memory_when_the_decoded_images_fit_else_a_file_that_release_removes(tmp_path):
    assert plan_cache(1000, 32, train_config()).kind == "memory"  # 12 MB
    disk = plan_cache(1000, 32, train_config("train.cache_max_mb=0", f"train.disk_cache_dir={tmp_path}"))
    assert disk.kind == "disk" and os.path.dirname(disk.folder) == str(tmp_path)
    assert disk.train != disk.validation and all(os.path.dirname(f) == disk.folder for f in (disk.train, disk.validation))
    assert "above train.cache_max_mb=0" in disk.reason and disk.folder in disk.reason
    disk.release()
    assert not os.path.exists(disk.folder)
    disk.release()  # twice is harmless


def test_no_cache_when_switched_off_or_the_disk_has_no_room(tmp_path):
    off = plan_cache(1000, 32, train_config("train.cache_max_mb=0", "train.disk_cache_dir=none"))
    assert (off.kind, off.train, off.validation) == ("none", None, None)
    assert "train.disk_cache_dir=none" in off.reason
    huge = plan_cache(10**9, 256, train_config(f"train.disk_cache_dir={tmp_path}"))  # ~ 700 TB
    assert huge.kind == "none" and huge.train is None
    assert str(tmp_path) in huge.reason and "too little" in huge.reason and os.listdir(tmp_path) == []


def test_an_unusable_or_remote_cache_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"train.disk_cache_dir=.*a-file/cache.*writable local folder"):
        plan_cache(1000, 32, train_config("train.cache_max_mb=0", f"train.disk_cache_dir={blocker}/cache"))
    with pytest.raises(ConfigError, match=r"train.disk_cache_dir.*not a bucket"):
        train_config("train.disk_cache_dir=gs://bucket/cache")


def test_a_split_cached_on_disk_is_read_from_the_file_after_the_first_pass(tmp_path):
    """Real gzip TFRecords from ImageExampleGen, the real Transform graph, the Trainer's make_dataset with the
    file cache: the first pass decodes and writes the file; with the TFRecords then deleted, a second pass still
    delivers every image, bit-identical to the first and to the uncached stream."""
    import tensorflow as tf
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx.components.util import tfxio_utils
    from tfx.types import standard_artifacts

    from components.trainer.spec import TrainerSettings
    from components.trainer.train import make_dataset
    from components.transform.standalone import write_transform_graph
    from schemas import features

    examples = run_example_gen(make_colour_folder(str(tmp_path / "images"), per_class=6), str(tmp_path / "out"))
    copy = standard_artifacts.Examples()
    copy.uri = str(tmp_path / "copy")
    shutil.copytree(examples.uri, copy.uri)
    copy.split_names = examples.split_names
    train_files = [os.path.join(copy.uri, f"Split-{features.TRAIN_SPLIT}", "*")]
    encoded = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(
        glob.glob(train_files[0]), compression_type="GZIP"))).numpy()).features.feature[features.IMAGE_KEY]
    tft_output = write_transform_graph(str(tmp_path / "transform"), 12, [encoded.bytes_list.value[0]])
    settings = TrainerSettings.from_config(build_config(overrides=[
        "train.cache_max_mb=0", f"train.disk_cache_dir={tmp_path / 'cache'}", "train.batch_size=4"]))
    accessor = DataAccessor(tfxio_utils.get_tf_dataset_factory_from_artifact([copy], ["test"]), None, None)

    def images(cache):
        ds = make_dataset(train_files, accessor, tft_output, settings, training=False, cache=cache, num_classes=3)
        return ds, lambda: np.concatenate([x.numpy() for x, _ in ds])

    cache = plan_cache(18, 12, settings.train)
    assert cache.kind == "disk"
    _, uncached = images(None)
    plain = uncached()
    _, cached = images(cache.train)
    first = cached()
    assert np.array_equal(first, plain)
    assert glob.glob(cache.train + "*.index"), os.listdir(cache.folder)  # the cache file is complete
    shutil.rmtree(os.path.join(copy.uri, f"Split-{features.TRAIN_SPLIT}"))
    second = cached()  # the TFRecords are gone: only the file can deliver these
    assert len(first) >= 9 and first.shape[1:] == (12, 12, 3)
    assert np.array_equal(first, second)
    with pytest.raises(Exception):  # while the uncached stream has nothing left to read
        uncached()
    cache.release()
    assert not os.path.exists(cache.folder)
