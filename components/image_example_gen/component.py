"""The image-folder ExampleGen: a FileBasedExampleGen with our executor and a path-hash split.

`tfx.v1` exposes neither FileBasedExampleGen nor BeamExecutorSpec, so those two
come from their internal modules; the split protos come from the public API.
"""
from typing import Optional, Union

from google.protobuf import struct_pb2
from tfx import v1 as tfx
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

from components.image_example_gen.executor import Executor
from components.image_example_gen.limits import IngestLimits
from schemas import features

COMPONENT_ID = "ImageExampleGen"
HASH_BUCKETS = 100
# What the driver globs under input_base to fingerprint the input (entry count, sizes,
# mtimes) for caching: the class folders, whose mtimes change when files are added,
# removed or renamed in them. Not the files: the driver stats every match and would
# crash on a broken link or a non-UTF-8 name, which ingestion quarantines instead.
INPUT_PATTERN = "*"
CONTENT_FINGERPRINT_KEY = "content_fingerprint"


def create_image_example_gen(
        input_base: Union[str, tfx.dsl.experimental.RuntimeParameter],
        validation_percent: int,
        test_percent: int,
        limits: Optional[IngestLimits] = None,
        content_fingerprint: str = "") -> FileBasedExampleGen:
    """ExampleGen for `<input_base>/<class_name>/<image files>`, split train/validation/test by path hash.

    Hashing the relative path (not the bytes) keeps each image in its split when
    files are re-encoded or new images are added. `input_base` is passed through
    untouched, so it may be a RuntimeParameter resolved at run time. `limits`
    (default: the config's defaults) travel in FileBasedExampleGen's `custom_config`, and so does
    `content_fingerprint` (every file's path, size, mtime: pipeline/caching.py), which the executor
    ignores: it is there so a cached run re-ingests when any file changed, not only a class folder.
    """
    train_buckets = HASH_BUCKETS - validation_percent - test_percent
    if min(validation_percent, test_percent, train_buckets) < 1:
        raise ValueError(f"validation_percent and test_percent must be at least 1 and leave at least 1% for "
                         f"train, got {validation_percent!r} and {test_percent!r}")
    input_config = tfx.proto.Input(splits=[tfx.proto.Input.Split(name="images", pattern=INPUT_PATTERN)])
    output_config = tfx.proto.Output(split_config=tfx.proto.SplitConfig(
        splits=[
            tfx.proto.SplitConfig.Split(name=features.TRAIN_SPLIT, hash_buckets=train_buckets),
            tfx.proto.SplitConfig.Split(name=features.VALIDATION_SPLIT, hash_buckets=validation_percent),
            tfx.proto.SplitConfig.Split(name=features.TEST_SPLIT, hash_buckets=test_percent),
        ],
        partition_feature_name=features.PATH_KEY))
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=input_config,
        output_config=output_config,
        custom_config=_custom_config(limits, content_fingerprint),
        custom_executor_spec=BeamExecutorSpec(Executor),
    ).with_id(COMPONENT_ID)


def _custom_config(limits: Optional[IngestLimits], content_fingerprint: str = "") -> Optional[tfx.proto.CustomConfig]:
    """The limits as a Struct packed in CustomConfig's Any (the only slot FileBasedExampleGen has)."""
    if limits is None and not content_fingerprint:
        return None
    struct = struct_pb2.Struct()
    struct.update(limits.to_dict() if limits else {})
    if content_fingerprint:
        struct.update({CONTENT_FINGERPRINT_KEY: content_fingerprint})
    custom = tfx.proto.CustomConfig()
    custom.custom_config.Pack(struct)
    return custom
