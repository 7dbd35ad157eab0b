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
from components.image_example_gen.spec import HASH_BUCKETS, INPUT_PATTERN, NODE_ID, SETTINGS_KEY, IngestSettings
from schemas import carrier, features
from schemas.config import DataConfig


def create_image_example_gen(
        data: DataConfig,
        input_base: Union[str, tfx.dsl.experimental.RuntimeParameter],
        span: Optional[int] = None,
        content_fingerprint: str = "") -> FileBasedExampleGen:
    """ExampleGen for `<input_base>/<class_name>/<image files>`, split train/validation/test by path hash.

    Hashing the relative path (not the bytes) keeps each image in its split when
    files are re-encoded or new images are added. `input_base` is passed through
    untouched, so it may be a RuntimeParameter resolved at run time. The ingestion limits, span settings,
    golden folder and `content_fingerprint` travel as IngestSettings in FileBasedExampleGen's `custom_config`.

    With `data.span_pattern` (e.g. `round-{SPAN}`) the data root holds one folder per
    batch: the split pattern `<span_pattern>/*` lets TFX's driver resolve the
    newest span, or `span` through a static RangeConfig (components/image_example_gen/spans.py);
    with several spans, only the newest one's images make the test split.
    With `data.golden_dir`, that folder's images are a `golden` split of their own (eval_sets.py).
    """
    validation_percent, test_percent = data.validation_percent, data.test_percent
    train_buckets = HASH_BUCKETS - validation_percent - test_percent
    if min(validation_percent, test_percent, train_buckets) < 1:
        raise ValueError(f"validation_percent and test_percent must be at least 1 and leave at least 1% for "
                         f"train, got {validation_percent!r} and {test_percent!r}")
    pattern = f"{data.span_pattern}/{INPUT_PATTERN}" if data.span_pattern else INPUT_PATTERN
    input_config = tfx.proto.Input(splits=[tfx.proto.Input.Split(name="images", pattern=pattern)])
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
        range_config=None if span is None else tfx.proto.RangeConfig(
            static_range=tfx.proto.StaticRange(start_span_number=span, end_span_number=span)),
        custom_config=_custom_config(IngestSettings.from_data_config(data, content_fingerprint)),
        custom_executor_spec=BeamExecutorSpec(Executor),
    ).with_id(NODE_ID)


def _custom_config(settings: IngestSettings) -> tfx.proto.CustomConfig:
    """The settings as JSON in a Struct packed in CustomConfig's Any (FileBasedExampleGen's only slot)."""
    struct = struct_pb2.Struct()
    struct.update({SETTINGS_KEY: carrier.to_json(settings)})
    custom = tfx.proto.CustomConfig()
    custom.custom_config.Pack(struct)
    return custom
