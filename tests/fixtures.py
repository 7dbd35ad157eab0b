"""Shared test helpers: small generated image folders (nothing binary is checked in), the fast
training overrides the pipeline runs share, and the image ExampleGen run on its own."""
import hashlib
import os

import numpy as np
from PIL import Image

# Small, quick training that still separates the colour classes; the pipeline runs share it.
FAST = ["data.image_size=20", "train.epochs=12", "train.batch_size=16", "train.early_stopping_patience=0",
        "model.stage_filters=[16,32]", "model.stage_strides=[2,2]", "model.stem_filters=16",
        "augment.rotation_degrees=0", "augment.zoom=0", "eval.min_accuracy=0.9",
        "data.test_percent=20"]  # ~18 of the 90 images: one miss must not sink the 0.9 floor

# Three classes a tiny CNN separates in a few epochs: the dominant colour channel.
COLOUR_CLASSES = {"blue": 2, "green": 1, "red": 0}


def colour_image(channel: int, size: int, rng: np.random.Generator) -> np.ndarray:
    image = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
    image[..., channel] = rng.integers(150, 256, (size, size))
    return image


def make_colour_folder(root: str, per_class: int = 30, size: int = 20, seed: int = 0) -> str:
    """<root>/<colour>/<i>.png|jpg: noisy images whose dominant channel is the class."""
    rng = np.random.default_rng(seed)
    for name, channel in COLOUR_CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            ext, fmt = (".jpg", "JPEG") if i % 3 == 0 else (".png", "PNG")
            Image.fromarray(colour_image(channel, size, rng)).save(
                os.path.join(root, name, f"{name}_{i:03d}{ext}"), format=fmt)
    return root


def make_span_folders(root: str, names, per_class: int = 10, size: int = 16) -> str:
    """<root>/<name>/<colour>/...: one colour folder per batch, each drawn from a seed of its own name."""
    import zlib
    for name in names:
        make_colour_folder(os.path.join(root, name), per_class=per_class, size=size, seed=zlib.crc32(name.encode()))
    return root


def encoded_colour_image(name: str, size: int = 20, seed: int = 999) -> bytes:
    """One held-out PNG of class `name`, drawn from a seed the folders never use."""
    import io
    buf = io.BytesIO()
    Image.fromarray(colour_image(COLOUR_CLASSES[name], size, np.random.default_rng(seed))).save(buf, "PNG")
    return buf.getvalue()


# What the compiled Kubeflow spec of the test suite is built with (conftest.py `kfp_yaml`).
KFP_IMAGE = "registry.example.com/team/imgpipe:1.2.3"
KFP_ROOT = "minio://mlpipeline/imgpipe"
KFP_DATA = "gs://bucket/images/2026-11-26"
KFP_SERVING = "gs://bucket/serving"
KFP_RESOURCES = ["kubeflow.trainer_cpu=4", "kubeflow.trainer_memory_gb=16", "kubeflow.trainer_gpus=1",
                 "kubeflow.trainer_gpu_type=nvidia.com/gpu", "data.schema_path=schemas/demo/schema.pbtxt"]


def tree_digest(root: str) -> str:
    """One hash of every file's path and bytes under `root`: "left byte-for-byte as it was".

    Not the judged-batch records (components/new_data/judged.py): a run with a new batch notes it there
    before anything else runs, beside the versions; TF Serving never reads them."""
    from components.new_data.judged import JUDGED_FILE, PENDING_FILE
    digest = hashlib.sha256()
    for directory, _, files in sorted(os.walk(root)):
        for name in sorted(set(files) - {PENDING_FILE, JUDGED_FILE}):
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def report_facts(output: str, run_id: str, cfg=None) -> dict:
    """The report's facts for a run of an output folder, gathered again from MLMD as `imgpipe report` does."""
    from pipeline.history.report.collect import collect
    from pipeline.history.run_record import open_store, read_run_record
    record = read_run_record(open_store(os.path.join(output, "metadata.sqlite")), "imgpipe", run_id)
    return collect(record, os.path.join(output, "pipeline_root"), cfg)


# --------------------------------------------------------------------------- the image ExampleGen alone

SPLITS = ["train", "validation", "test"]


def save_image(path, fmt="PNG", size=(8, 6), color=(200, 30, 30)):
    """One plain image at `path` (a pathlib.Path), its folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def ingest_limits(**overrides):
    """The config's ingestion limits, with a minimum of 1 image per class: these folders are tiny."""
    from components.image_example_gen import IngestLimits
    from schemas.config import DataConfig
    return IngestLimits.from_data_config(DataConfig(**{"min_images_per_class": 1, **overrides}))


def run_example_gen(data_root, out_dir, validation_percent=10, test_percent=20, limits=None,
                    span_pattern="", window_spans=1, span=None, driver=False, golden_dir=""):
    """Ingest `data_root` with the component's own exec properties (components/image_example_gen/standalone.py)."""
    from components.image_example_gen.standalone import ingest
    from schemas.config import DataConfig

    data = DataConfig(validation_percent=validation_percent, test_percent=test_percent, span_pattern=span_pattern,
                      window_spans=window_spans, golden_dir=golden_dir, **(limits or ingest_limits()).to_dict())
    return ingest(data, data_root, out_dir, span, driver)


def read_splits(examples):
    """{split name: [tf.train.Example]} read back from the artifact's gzip TFRecords."""
    import tensorflow as tf
    from tfx.types import artifact_utils

    result = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        result[split] = [tf.train.Example.FromString(r.numpy()) for r in dataset]
    return result


def split_paths(examples_uri: str) -> dict:
    """{split: sorted `path` features} of an Examples artifact's gzip TFRecords: which image went where."""
    import glob
    import tensorflow as tf
    from schemas.features import PATH_KEY
    result = {}
    for folder in sorted(glob.glob(os.path.join(examples_uri, "Split-*"))):
        records = tf.data.TFRecordDataset(glob.glob(os.path.join(folder, "*.gz")), compression_type="GZIP")
        result[os.path.basename(folder)[len("Split-"):]] = sorted(
            tf.train.Example.FromString(r.numpy()).features.feature[PATH_KEY].bytes_list.value[0].decode()
            for r in records)
    return result


def split_statistics(statistics_uri: str) -> dict:
    """{split: DatasetFeatureStatisticsList} of a StatisticsGen output."""
    import glob
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from components.data_validation.spec import STATISTICS_FILE
    result = {}
    for path in sorted(glob.glob(os.path.join(statistics_uri, "Split-*", STATISTICS_FILE))):
        with open(path, "rb") as f:
            result[os.path.basename(os.path.dirname(path))] = statistics_pb2.DatasetFeatureStatisticsList.FromString(
                f.read())
    return result
