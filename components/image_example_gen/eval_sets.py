"""What the Evaluator judges: the newest span's test split, and an optional golden folder.

With a window of several spans, only the newest span's test-hashed images make the
test split: the older spans' ones were judged in their own runs and never trained
on, so they stay out of every split (an image keeps its hash split in each window).
The golden folder (`data.golden_dir`) is a fixed set of class folders ingested as
a split of its own that the Trainer never reads. Pure Python, so the CLI pre-flight
refuses a bad golden folder before TFX is imported.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import posixpath
from typing import List, Sequence, Tuple

from components.fs import is_remote
from components.image_example_gen.folder import (
    FolderScan,
    ImageFile,
    ImageFolderError,
    _check_root,
    _list_dir,
    _scan_class,
)
from schemas import features

GOLDEN_KEY = "data.golden_dir"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def hash_split(rel_path: str, splits: Sequence[Tuple[str, int]]) -> str:
    """The split TFX's ExampleGen puts an image in, from its `path` feature and the (name, hash_buckets) list.

    The same rule as TFX's partition (base_example_gen_executor._PartitionFn with
    `partition_feature_name`): sha256 of the serialized tf.train.Feature holding the
    path, modulo the total buckets. Encoded here by hand (a Feature with one
    bytes_list value), so it runs without TensorFlow; a unit test checks it against TFX's.
    """
    value = rel_path.encode("utf-8", "surrogateescape")
    bytes_list = b"\x0a" + _varint(len(value)) + value
    feature = b"\x0a" + _varint(len(bytes_list)) + bytes_list
    bucket = int(hashlib.sha256(feature).hexdigest(), 16) % sum(n for _, n in splits)
    ends = [sum(n for _, n in splits[:i + 1]) for i in range(len(splits))]
    return splits[bisect.bisect(ends, bucket)][0]


def newest_span_test_only(scan: FolderScan, newest_folder: str, splits: Sequence[Tuple[str, int]]) -> FolderScan:
    """The scan without the images of older spans that hash to test: they are judged only in their own run."""
    prefix = newest_folder + "/"
    kept = [f for f in scan.files
            if f.rel_path.startswith(prefix) or hash_split(f.rel_path, splits) != features.TEST_SPLIT]
    return FolderScan(scan.root, scan.class_names, kept, scan.skipped)


def _norm(path: str) -> str:
    path = path.rstrip("/")
    return path if is_remote(path) else os.path.realpath(path)


def _overlaps(a: str, b: str) -> bool:
    a, b = _norm(a) + "/", _norm(b) + "/"
    return a.startswith(b) or b.startswith(a)


def scan_golden_folder(golden_dir: str, data_root: str, class_names: Sequence[str]) -> FolderScan:
    """The golden folder's images, labelled with the training data's class indices.

    Each image's `path` is `<golden folder name>/<class>/<file>`, read from the
    golden folder's parent. Refused, naming data.golden_dir and the fix: a folder
    inside the data root or holding it, a class the training data lacks, no images.
    """
    if _overlaps(golden_dir, data_root):
        raise ImageFolderError(
            f"{GOLDEN_KEY}={golden_dir} overlaps the data root {data_root}: its images would be trained on. "
            "Move the golden folder out of the data root (e.g. beside it).")
    _check_root(golden_dir)
    classes = [name for name, is_dir in _list_dir(golden_dir) if is_dir and not name.startswith(".")]
    unknown = sorted(set(classes) - set(class_names))
    if unknown:
        raise ImageFolderError(
            f"{GOLDEN_KEY}={golden_dir}: class folder(s) {', '.join(unknown)} are not classes of the training "
            f"data ({', '.join(class_names)}). Remove them from the golden folder or add training images of them.")
    parent, name = _split_parent(golden_dir)
    files: List[ImageFile] = []
    skipped = []
    for class_name in classes:
        found, class_skipped = _scan_class(golden_dir, class_name)
        files += [ImageFile(f"{name}/{rel}", list(class_names).index(class_name), class_name) for rel in found]
        skipped += [(f"{name}/{rel}", reason) for rel, reason in class_skipped]
    if not files:
        raise ImageFolderError(
            f"{GOLDEN_KEY}={golden_dir} holds no image files in class folders. Put the golden images in "
            f"<golden folder>/<class_name>/ (classes: {', '.join(class_names)}), or set {GOLDEN_KEY}='' to judge "
            "on the test split alone.")
    return FolderScan(parent, sorted(class_names), sorted(files, key=lambda f: f.rel_path), sorted(skipped))


def curated_schema_problem(schema_path: str) -> str:
    """With a golden folder every example carries the `split` feature: a curated schema without it would
    make the data gate stop on a new column after ingestion. '' when the schema lists it."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(schema_path, encoding="utf-8") as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    if any(feature.name == features.SPLIT_KEY for feature in schema.feature):
        return ""
    return (f"{GOLDEN_KEY} needs the feature '{features.SPLIT_KEY}' in the curated schema {schema_path} "
            f"(data.schema_path): add feature {{ name: \"{features.SPLIT_KEY}\" type: BYTES presence "
            "{ min_fraction: 1.0 min_count: 1 } shape { dim { size: 1 } } } (docs/scheduled-runs.md)")


def _split_parent(path: str) -> Tuple[str, str]:
    path = path.rstrip("/")
    if is_remote(path):
        return posixpath.dirname(path), posixpath.basename(path)
    path = os.path.abspath(path)
    return os.path.dirname(path), os.path.basename(path)
