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
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from components.fs import is_remote, local_path
from schemas import features

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
MIN_CLASSES = 2
_LAYOUT_HINT = "expected layout: <data folder>/<class_name>/<image files>"

# Leading bytes of each supported format, and the name Pillow gives the format.
JPEG_MAGIC = b"\xff\xd8\xff"
_MAGIC = (
    (JPEG_MAGIC, "jpeg", "JPEG"),
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


class UnparsedHeaderError(BadImageError):
    """Pillow cannot parse the header of a file whose magic bytes name a format we ingest."""


@dataclass(frozen=True)
class ImageFile:
    rel_path: str      # relative to the data root, '/'-separated: the split's hash key
    label: int         # index into FolderScan.class_names
    class_name: str


@dataclass
class FolderScan:
    """What a listing found: the classes and the candidate image files (by extension, not yet read)."""
    root: str
    class_names: List[str]
    files: List[ImageFile] = field(repr=False)
    skipped: List[Tuple[str, str]] = field(default_factory=list, repr=False)  # (rel_path, reason)

    def class_counts(self) -> Dict[str, int]:
        counts = {name: 0 for name in self.class_names}
        for f in self.files:
            counts[f.class_name] += 1
        return counts

    def empty_classes(self) -> List[str]:
        """Class folders holding no file with an image extension."""
        return [name for name, count in self.class_counts().items() if count == 0]

    def manifest(self) -> Dict[str, Any]:
        """What was found, for the trainer, the run summary and a human reading the artifact."""
        return {
            "data_root": self.root,
            "class_names": list(self.class_names),
            "class_counts": self.class_counts(),
            "num_examples": len(self.files),
            "skipped": [{"path": display_path(p), "reason": r} for p, r in self.skipped],
        }


def display_path(path: str) -> str:
    """`path` as printable text: bytes of a non-UTF-8 file name are shown as \\xNN escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- file system

def _gfile():
    import tensorflow as tf  # only for paths with a scheme: importing TF costs seconds
    return tf.io.gfile


def _join(parent: str, *names: str) -> str:
    return posixpath.join(parent, *names) if is_remote(parent) else os.path.join(parent, *names)


def _exists(path: str) -> bool:
    return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def _isdir(path: str) -> bool:
    return _gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def _list_dir(path: str) -> List[Tuple[str, bool]]:
    """(name, is_folder) of each entry, sorted by name."""
    try:
        return _list_dir_unchecked(path)
    except Exception as e:  # OSError locally, tf.errors.OpError through gfile
        raise ImageFolderError(f"cannot list folder {path}: {e}. Check that it is readable.") from e


def _list_dir_unchecked(path: str) -> List[Tuple[str, bool]]:
    if not is_remote(path):
        with os.scandir(path) as entries:
            return sorted((e.name, _entry_is_dir(e)) for e in entries)
    gfile = _gfile()
    result = []
    for name in gfile.listdir(path):
        stripped = name.rstrip("/")
        result.append((stripped, name.endswith("/") or gfile.isdir(_join(path, stripped))))
    return sorted(result)


def _entry_is_dir(entry: os.DirEntry) -> bool:
    """Whether an entry is a folder (through links); a link loop is no folder: reading it says what it is."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _read_bytes(path: str, max_bytes: int = -1) -> bytes:
    """The file's content; with `max_bytes` >= 0, at most max_bytes + 1 bytes (enough to see it is too big)."""
    if not is_remote(path):
        with open(path, "rb") as f:
            if max_bytes < 0:
                return f.read()
            # read(n) allocates n bytes before it reads: asking for the cap (data.max_file_mb, 50 MB by
            # default) cost 0.1 ms per small image inside the Beam worker. Ask for the size the file has,
            # plus one byte to see it grow, and read on up to the cap only when it did.
            size = os.fstat(f.fileno()).st_size
            data = f.read(min(size, max_bytes) + 1)
            if size < len(data) <= max_bytes:
                data += f.read(max_bytes + 1 - len(data))
            return data
    gfile = _gfile()
    with gfile.GFile(path, "rb") as f:
        return f.read(max_bytes + 1 if max_bytes >= 0 else -1)


# --------------------------------------------------------------------------- scanning

def scan_image_folder(root: str, skip_empty_classes: bool = False) -> FolderScan:
    """List the classes and candidate image files under `root`, reading no file.

    Raises ImageFolderError only for folder-level problems (missing root, fewer
    than two classes, a class name that is not text). A class folder without
    image files stays a class (the ingestion's minimum-images limit decides),
    unless `skip_empty_classes`: then it is listed as skipped and is no class.
    """
    root = local_path(root)
    _check_root(root)
    class_names, skipped = [], []
    for name, is_dir in _list_dir(root):
        if name.startswith("."):
            skipped.append((name, "hidden"))
        elif is_dir:
            class_names.append(name)
        else:
            _check_loose_entry(root, name)
            skipped.append((name, "not inside a class folder"))
    _check_class_names(root, class_names)
    per_class = {name: _scan_class(root, name) for name in class_names}
    if skip_empty_classes:
        empty = [name for name in class_names if not per_class[name][0]]
        skipped += [(name, "class folder without image files: not used as a class") for name in empty]
        class_names = [name for name in class_names if name not in empty]
    _check_classes(root, class_names)
    files = []
    for label, class_name in enumerate(class_names):
        files += [ImageFile(rel, label, class_name) for rel in per_class[class_name][0]]
    for class_files, class_skipped in per_class.values():
        skipped += class_skipped
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


def _check_loose_entry(root: str, name: str) -> None:
    """Entries at the root are fingerprinted by TFX's ExampleGen driver, which fails on what it cannot stat."""
    path = _join(root, display_path(name))
    if display_path(name) != name:
        raise ImageFolderError(f"file name at the data root is not valid UTF-8: {path}. "
                               "Remove or rename it: only class folders belong at the root.")
    if not is_remote(root) and not os.path.exists(_join(root, name)):
        raise ImageFolderError(f"broken symbolic link at the data root: {path}. "
                               "Remove it: only class folders belong at the root.")


def _check_class_names(root: str, class_names: List[str]) -> None:
    """Class names travel as text (labels.txt, the model's class_name output): they must be valid UTF-8.

    labels.txt holds one name per line and TensorFlow reads it back line by line
    (dropping a trailing carriage return), so a name with a line break would shift
    every later class name: such a folder is refused, never renamed silently.
    """
    for name in class_names:
        if display_path(name) != name:
            raise ImageFolderError(
                f"class folder name is not valid UTF-8: {_join(root, display_path(name))}. "
                "Rename the folder: its name becomes the class name the model returns.")
        if "\n" in name or "\r" in name:
            raise ImageFolderError(
                f"class folder name holds a line break: {_join(root, name)!r}. Rename the folder without "
                "it: its name becomes a line of labels.txt and the class name the model returns.")


def _scan_class(root: str, class_name: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Relative paths of the candidate images under one class folder (recursively), and what was skipped.

    Folders reached twice through symbolic links (a link loop, or two links to
    one folder) are walked once; a folder that cannot be listed is skipped.
    """
    images, skipped, seen = [], [], set()
    pending = [class_name]
    while pending:
        rel_dir = pending.pop()
        path = _join(root, *rel_dir.split("/"))
        identity = _folder_identity(path)
        if identity in seen:
            skipped.append((rel_dir, "folder already scanned through another path (symbolic link loop?)"))
            continue
        seen.add(identity)
        try:
            entries = _list_dir(path)
        except ImageFolderError as e:
            skipped.append((rel_dir, f"folder cannot be listed: {e.__cause__}"))
            continue
        for name, is_dir in entries:
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


def _folder_identity(path: str):
    """What makes two paths the same folder: (device, inode) locally; the path itself in a bucket."""
    if is_remote(path):
        return path
    try:
        st = os.stat(path)
    except OSError:
        return path
    return st.st_dev, st.st_ino


# --------------------------------------------------------------------------- reading

def probe_image(data: bytes, max_pixels: int = 0) -> Tuple[str, int, int]:
    """(format, height, width) from the content's magic bytes and header; BadImageError otherwise.

    The extension is not trusted: a PNG named .jpg is a PNG. Pillow's `open` is lazy
    and parses the header only, so this is cheap even for large images, and with
    `max_pixels` > 0 an image declaring more pixels is refused before anything decodes it.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError  # Pillow is only needed once files are read

    if not data:
        raise BadImageError("the file is empty (0 bytes)")
    match = next((m for m in _MAGIC if data.startswith(m[0])), None)
    if match is None:
        raise BadImageError(f"content is not JPEG, PNG, GIF or BMP (first bytes: {data[:8]!r})")
    _, image_format, pillow_format = match
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is below
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                width, height = image.size
    except Image.DecompressionBombError as e:  # Pillow's own limit, twice its MAX_IMAGE_PIXELS
        declared = re.search(r"\((\d+) pixels\)", str(e))
        raise BadImageError(_bomb_reason(declared.group(1) if declared else "more", max_pixels)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise UnparsedHeaderError(f"{image_format.upper()} header cannot be parsed: {e}") from None
    check_declared_size(image_format, height, width, max_pixels)
    if max_pixels > 0 and image_format == "gif":
        frames, pixels = gif_frame_pixels(data)
        if pixels > max_pixels:  # TensorFlow's GIF decoder holds every frame, even for the first one
            raise BadImageError(_bomb_reason(f"{frames} frames of together {pixels}", max_pixels))
    return image_format, height, width


def gif_frame_pixels(data: bytes) -> Tuple[int, int]:
    """(frames, summed frame areas) read from a GIF's block structure, decoding no pixel.

    Walks the blocks: extensions (0x21) and image data are chains of sub-blocks
    to skip; each image descriptor (0x2C) is one frame. Stops at the trailer or
    at the end of a truncated file.
    """
    def table_size(packed: int) -> int:
        return 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0

    def skip_sub_blocks(pos: int) -> int:
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        return pos + 1

    frames = pixels = 0
    pos = 13 + table_size(data[10]) if len(data) > 10 else len(data)
    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:
            pos = skip_sub_blocks(pos + 2)
        elif data[pos] == 0x2C and pos + 10 <= len(data):
            width = int.from_bytes(data[pos + 5:pos + 7], "little")
            height = int.from_bytes(data[pos + 7:pos + 9], "little")
            frames, pixels = frames + 1, pixels + width * height
            pos = skip_sub_blocks(pos + 10 + table_size(data[pos + 9]) + 1)
        else:
            break
    return frames, pixels


def check_declared_size(image_format: str, height: int, width: int, max_pixels: int) -> None:
    """BadImageError when a header's declared size is empty, or above `max_pixels` (> 0)."""
    if width <= 0 or height <= 0:
        raise BadImageError(f"{image_format.upper()} header gives an empty size {width}x{height}")
    if max_pixels > 0 and width * height > max_pixels:
        raise BadImageError(_bomb_reason(f"{width}x{height} = {width * height}", max_pixels))


def _bomb_reason(declared: str, max_pixels: int) -> str:
    limit = f"data.max_image_pixels={max_pixels}" if max_pixels > 0 else "Pillow's limit"
    return f"header declares {declared} pixels, above {limit} (a possible decompression bomb); not decoded"


def read_image(root: str, image_file: ImageFile) -> Dict[str, Any]:
    """Read one file and return its raw feature values (the encoded bytes, not pixels).

    Strict: any problem raises ImageFolderError naming the file. Ingestion uses
    `quarantine.inspect_image`, which also decodes and sets bad files aside.
    """
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
    return image_record(image_file, data, image_format, height, width)


def image_record(image_file: ImageFile, data: bytes, image_format: str, height: int, width: int) -> Dict[str, Any]:
    """The raw feature values of one ingested image."""
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
    """A tf.train.Example with one value per feature; strings are stored UTF-8 encoded.

    A non-UTF-8 file name keeps its original bytes (surrogateescape), so the
    `path` feature names the file exactly. Filled in place (tf.train.Example is example_pb2.Example):
    building each Feature through `tf.train` cost 3x as much, 28 us per image.
    """
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    feature = example.features.feature
    for key in _BYTES_KEYS:
        value = record[key]
        value = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        feature[key].bytes_list.value.append(value)
    for key in _INT_KEYS:
        feature[key].int64_list.value.append(int(record[key]))
    return example
