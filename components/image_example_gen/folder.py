"""Scan a folder of class sub-folders and turn each image file into tf.Example features.

Pure Python so the CLI can check a data folder before paying for a TFX import.
Local paths use `os`; any path with a scheme (`gs://`, `s3://`, ...) goes through
`tf.io.gfile`, imported only when such a path is seen.

Layout: `<root>/<class_name>/<image files>`, image files possibly in nested
folders inside a class folder. Classes are the sorted sub-folder names and a
label is the index into that list, so labels only change when classes do.
"""
from __future__ import annotations

import io
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from components import features

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
MIN_CLASSES = 2
_LAYOUT_HINT = "expected layout: <data folder>/<class_name>/<image files>"

# Leading bytes of each supported format, and the name Pillow gives the format.
_MAGIC = (
    (b"\xff\xd8\xff", "jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "png", "PNG"),
    (b"GIF87a", "gif", "GIF"),
    (b"GIF89a", "gif", "GIF"),
    (b"BM", "bmp", "BMP"),
)


class ImageFolderError(ValueError):
    """The data folder or one of its files cannot be ingested; the message says what to fix."""


class BadImageError(ValueError):
    """A file's content is not an image we ingest. `reason` says why, without the path."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageFile:
    rel_path: str      # relative to the data root, '/'-separated: the split's hash key
    label: int         # index into FolderScan.class_names
    class_name: str


@dataclass
class FolderScan:
    root: str
    class_names: List[str]
    files: List[ImageFile] = field(repr=False)
    skipped: List[Tuple[str, str]] = field(default_factory=list, repr=False)  # (rel_path, reason)

    def class_counts(self) -> Dict[str, int]:
        counts = {name: 0 for name in self.class_names}
        for f in self.files:
            counts[f.class_name] += 1
        return counts

    def manifest(self) -> Dict[str, Any]:
        """What was ingested, for the trainer, the run summary and a human reading the artifact."""
        return {
            "data_root": self.root,
            "class_names": list(self.class_names),
            "class_counts": self.class_counts(),
            "num_examples": len(self.files),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


# --------------------------------------------------------------------------- file system

def _is_remote(path: str) -> bool:
    return "://" in path


def _gfile():
    import tensorflow as tf  # only for paths with a scheme: importing TF costs seconds
    return tf.io.gfile


def _join(parent: str, *names: str) -> str:
    return posixpath.join(parent, *names) if _is_remote(parent) else os.path.join(parent, *names)


def _exists(path: str) -> bool:
    return _gfile().exists(path) if _is_remote(path) else os.path.exists(path)


def _isdir(path: str) -> bool:
    return _gfile().isdir(path) if _is_remote(path) else os.path.isdir(path)


def _list_dir(path: str) -> List[Tuple[str, bool]]:
    """(name, is_folder) of each entry, sorted by name."""
    try:
        return _list_dir_unchecked(path)
    except Exception as e:  # OSError locally, tf.errors.OpError through gfile
        raise ImageFolderError(f"cannot list folder {path}: {e}. Check that it is readable.") from e


def _list_dir_unchecked(path: str) -> List[Tuple[str, bool]]:
    if not _is_remote(path):
        with os.scandir(path) as entries:
            return sorted((e.name, e.is_dir()) for e in entries)
    gfile = _gfile()
    result = []
    for name in gfile.listdir(path):
        stripped = name.rstrip("/")
        result.append((stripped, name.endswith("/") or gfile.isdir(_join(path, stripped))))
    return sorted(result)


def _read_bytes(path: str) -> bytes:
    if not _is_remote(path):
        with open(path, "rb") as f:
            return f.read()
    gfile = _gfile()
    with gfile.GFile(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------- scanning

def scan_image_folder(root: str) -> FolderScan:
    """List the classes and image files under `root`; raise ImageFolderError if it cannot train a classifier."""
    _check_root(root)
    class_names, skipped = [], []
    for name, is_dir in _list_dir(root):
        if name.startswith("."):
            skipped.append((name, "hidden"))
        elif is_dir:
            class_names.append(name)
        else:
            skipped.append((name, "not inside a class folder"))
    _check_classes(root, class_names)
    files = []
    for label, class_name in enumerate(class_names):
        class_files, class_skipped = _scan_class(root, class_name)
        files += [ImageFile(rel, label, class_name) for rel in class_files]
        skipped += class_skipped
    _check_no_empty_class(root, class_names, files)
    return FolderScan(root, class_names, sorted(files, key=lambda f: f.rel_path), sorted(skipped))


def _check_root(root: str) -> None:
    if not _exists(root):
        raise ImageFolderError(f"data folder not found: {root}. Check the path; {_LAYOUT_HINT}.")
    if not _isdir(root):
        raise ImageFolderError(
            f"data path is not a folder: {root}. Give the folder that holds one sub-folder per class; "
            f"{_LAYOUT_HINT}.")


def _check_classes(root: str, class_names: List[str]) -> None:
    if not class_names:
        raise ImageFolderError(
            f"no class sub-folders in {root}. Put the images of each class in their own sub-folder; "
            f"{_LAYOUT_HINT}.")
    if len(class_names) < MIN_CLASSES:
        raise ImageFolderError(
            f"only one class folder ({class_names[0]!r}) in {root}: a classifier needs at least "
            f"{MIN_CLASSES} classes. Add a sub-folder of images for each other class.")


def _check_no_empty_class(root: str, class_names: List[str], files: List[ImageFile]) -> None:
    found = {f.class_name for f in files}
    empty = [name for name in class_names if name not in found]
    if empty:
        folders = ", ".join(_join(root, name) for name in empty)
        raise ImageFolderError(
            f"class folder(s) with no images ({'/'.join(IMAGE_EXTENSIONS)}): {folders}. "
            "Add images to each, or remove the folder if it is not a class.")


def _scan_class(root: str, class_name: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Relative paths of the images under one class folder (recursively), and what was skipped."""
    images, skipped = [], []
    pending = [class_name]
    while pending:
        rel_dir = pending.pop()
        for name, is_dir in _list_dir(_join(root, *rel_dir.split("/"))):
            rel = f"{rel_dir}/{name}"
            if name.startswith("."):
                skipped.append((rel, "hidden"))
            elif is_dir:
                pending.append(rel)
            elif name.lower().endswith(IMAGE_EXTENSIONS):
                images.append(rel)
            else:
                skipped.append((rel, "not an image extension (" + " ".join(IMAGE_EXTENSIONS) + ")"))
    return images, skipped


# --------------------------------------------------------------------------- reading

def probe_image(data: bytes) -> Tuple[str, int, int]:
    """(format, height, width) from the content's magic bytes and header; BadImageError otherwise.

    The extension is not trusted: a PNG named .jpg is a PNG. Pillow's `open` is lazy
    and parses the header only, so this is cheap even for large images.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow is only needed once files are read

    if not data:
        raise BadImageError("the file is empty")
    match = next((m for m in _MAGIC if data.startswith(m[0])), None)
    if match is None:
        raise BadImageError(f"content is not JPEG, PNG, GIF or BMP (first bytes: {data[:8]!r})")
    _, image_format, pillow_format = match
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise BadImageError(f"{image_format.upper()} header cannot be parsed: {e}") from None
    if width <= 0 or height <= 0:
        raise BadImageError(f"{image_format.upper()} header gives an empty size {width}x{height}")
    return image_format, height, width


def read_image(root: str, image_file: ImageFile) -> Dict[str, Any]:
    """Read one file and return its raw feature values (the encoded bytes, not pixels)."""
    path = _join(root, *image_file.rel_path.split("/"))
    try:
        data = _read_bytes(path)
    except Exception as e:  # OSError locally, tf.errors.OpError through gfile
        raise ImageFolderError(
            f"cannot read image file {path}: {e}. Check that it exists and is readable, "
            "or remove it from the data folder.") from e
    try:
        image_format, height, width = probe_image(data)
    except BadImageError as e:
        raise ImageFolderError(
            f"not a usable image: {path}: {e.reason}. Replace the file with a valid image or remove it.") from None
    return {
        features.IMAGE_KEY: data,
        features.LABEL_KEY: image_file.label,
        features.LABEL_NAME_KEY: image_file.class_name,
        features.PATH_KEY: image_file.rel_path,
        features.HEIGHT_KEY: height,
        features.WIDTH_KEY: width,
        features.FORMAT_KEY: image_format,
    }


_BYTES_KEYS = (features.IMAGE_KEY, features.LABEL_NAME_KEY, features.PATH_KEY, features.FORMAT_KEY)
_INT_KEYS = (features.LABEL_KEY, features.HEIGHT_KEY, features.WIDTH_KEY)


def to_tf_example(record: Dict[str, Any]):
    """A tf.train.Example with one value per feature; strings are stored UTF-8 encoded."""
    import tensorflow as tf

    feature = {}
    for key in _BYTES_KEYS:
        value = record[key]
        value = value.encode("utf-8") if isinstance(value, str) else value
        feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    for key in _INT_KEYS:
        feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(record[key])]))
    return tf.train.Example(features=tf.train.Features(feature=feature))
