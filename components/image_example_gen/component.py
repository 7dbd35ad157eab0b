"""The image-folder ExampleGen: a FileBasedExampleGen with our executor and a path-hash split.

`tfx.v1` exposes neither FileBasedExampleGen nor BeamExecutorSpec, so those two
come from their internal modules; the split protos come from the public API.
"""
from typing import Any, Dict, Optional, Union

from google.protobuf import struct_pb2
from tfx import v1 as tfx
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

from components.image_example_gen.executor import GOLDEN_DIR_KEY, SPAN_PATTERN_KEY, WINDOW_SPANS_KEY, Executor
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
        span_pattern: str = "",
        window_spans: int = 1,
        span: Optional[int] = None,
        content_fingerprint: str = "",
        golden_dir: str = "") -> FileBasedExampleGen:
    """ExampleGen for `<input_base>/<class_name>/<image files>`, split train/validation/test by path hash.

    Hashing the relative path (not the bytes) keeps each image in its split when
    files are re-encoded or new images are added. `input_base` is passed through
    untouched, so it may be a RuntimeParameter resolved at run time. `limits`
    (default: the config's defaults) travel in FileBasedExampleGen's `custom_config`, and so does
    `content_fingerprint` (every file's path, size, mtime: pipeline/local/caching.py), which the executor
    ignores: it is there so a cached run re-ingests when any file changed, not only a class folder.

    With `span_pattern` (e.g. `round-{SPAN}`) the data root holds one folder per
    batch: the split pattern `<span_pattern>/*` lets TFX's driver resolve the
    newest span, or `span` through a static RangeConfig (components/image_example_gen/spans.py);
    with several spans, only the newest one's images make the test split.
    With `golden_dir`, that folder's images are a `golden` split of their own (eval_sets.py).
    """
    train_buckets = HASH_BUCKETS - validation_percent - test_percent
    if min(validation_percent, test_percent, train_buckets) < 1:
        raise ValueError(f"validation_percent and test_percent must be at least 1 and leave at least 1% for "
                         f"train, got {validation_percent!r} and {test_percent!r}")
    pattern = f"{span_pattern}/{INPUT_PATTERN}" if span_pattern else INPUT_PATTERN
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
        custom_config=_custom_config({
            **(limits.to_dict() if limits else {}),
            **({SPAN_PATTERN_KEY: span_pattern, WINDOW_SPANS_KEY: window_spans} if span_pattern else {}),
            **({CONTENT_FINGERPRINT_KEY: content_fingerprint} if content_fingerprint else {}),
            **({GOLDEN_DIR_KEY: golden_dir} if golden_dir else {})}),
        custom_executor_spec=BeamExecutorSpec(Executor),
    ).with_id(COMPONENT_ID)


def _custom_config(values: Dict[str, Any]) -> Optional[tfx.proto.CustomConfig]:
    """The limits, span settings and content fingerprint as a Struct packed in CustomConfig's Any
    (FileBasedExampleGen's only slot)."""
    if not values:
        return None
    struct = struct_pb2.Struct()
    struct.update(values)
    custom = tfx.proto.CustomConfig()
    custom.custom_config.Pack(struct)
    return custom
