"""Per-file checks that decide: ingested, or quarantined with a reason a person can act on.

Order matters for memory: the file's size is checked before it is read (and
reads are capped), the declared width x height from the header before anything
decodes pixels. Only then is the file decoded, by TensorFlow's own decoder with
the arguments `components.transform.preprocessing.decode_and_resize` uses, so a file that
is ingested is a file that training and serving can decode. Truncated and corrupt
files fail here, not in the middle of the Transform.

Stays import-light (no TensorFlow until a file is decoded) so a header-only
rejection, such as a decompression bomb, never loads or calls the decoder.
"""
from __future__ import annotations

import atexit
import errno
import functools
import io
import logging
import os
import re
import stat
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from components.fs import is_remote
from components.image_example_gen.folder import (
    BadImageError,
    ImageFile,
    JPEG_MAGIC,
    UnparsedHeaderError,
    _gfile,
    _join,
    _read_bytes,
    check_declared_size,
    display_path,
    image_record,
    probe_image,
)


class DecodeError(ValueError):
    """The training decoder rejected the bytes."""


@dataclass(frozen=True)
class Quarantined:
    """One file set aside: its full path (printable), why, its size, and the class folder it was in."""
    path: str
    reason: str
    size_bytes: int
    class_name: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What became of one file: a record to ingest, or a quarantine entry; `note` when it was converted."""
    path: str               # full path, printable
    record: Optional[Dict[str, Any]] = None
    quarantined: Optional[Quarantined] = None
    note: str = ""


def decode_like_training(data: bytes) -> Tuple[int, int]:
    """Decode with the training/serving decoder (`preprocessing.decode_rgb`); (height, width).

    This is the hook the tests spy on to prove that a rejected header never reaches a decoder.
    """
    import tensorflow as tf

    from components.transform.preprocessing import decode_rgb

    try:
        image = decode_rgb(data)
    except (tf.errors.OpError, ValueError) as e:
        raise DecodeError(_op_message(str(e))) from None
    return int(image.shape[0]), int(image.shape[1])


def _op_message(text: str) -> str:
    """TensorFlow's message without the op-location noise around it."""
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text.strip().splitlines()[-1])
    return re.sub(r"\s*\[Op:\w+\]$", "", text)[:200]


def inspect_image(root: str, image_file: ImageFile, max_image_pixels: int, max_file_mb: float,
                  decode: Callable[[bytes], Tuple[int, int]] = decode_like_training) -> Outcome:
    """Check one candidate file from the cheapest test to the dearest; never raises for a bad file."""
    read = _read_and_probe(root, image_file, max_image_pixels, max_file_mb)
    return read if isinstance(read, Outcome) else _decode_checked(read, decode)


def inspect_images(root: str, image_files: Sequence[ImageFile], max_image_pixels: int,
                   max_file_mb: float) -> List[Outcome]:
    """`inspect_image` for a batch of files: the same checks, in the same order.

    A decoder call from Python costs ~0.2 ms whatever the image (eager op dispatch), several times the
    decode of a small JPEG. So the small JPEGs and PNGs (<= _BATCH_PIXELS) are decoded in one call of
    the training decoder; when that call succeeds every one of them is decodable. A JPEG's header is
    read in that same call, by the decoder's own header parser (`tf.image.extract_jpeg_shape`), and its
    declared width x height checked against the limit there, before the decoder runs on it: Pillow's
    header parse cost ~45 us per file, more than the decode of a 32 px JPEG. A file over the limit or
    over _BATCH_PIXELS is left to the path below. When the call fails, every file goes the way
    `inspect_image` takes it alone (Pillow's header probe, then the decoder on its own), which finds
    the culprit and its reason; larger images, GIFs and BMPs always go that way. Both ways a JPEG's
    header counts as read when the training decoder's parser reads it (`_probe`), so a file gets the same
    outcome in any batch.
    """
    read = [_read_checked(root, image_file, max_file_mb) for image_file in image_files]
    candidates = [r if isinstance(r, Outcome) or r.data.startswith(JPEG_MAGIC) else _probe(r, max_image_pixels)
                  for r in read]  # _Read (a JPEG, its header not read yet), _Candidate or Outcome
    batch = [i for i, c in enumerate(candidates) if isinstance(c, _Read) or (
        isinstance(c, _Candidate) and c.format in _BATCH_FORMATS and c.height * c.width <= _BATCH_PIXELS)]
    sizes = _decode_batch([candidates[i] for i in batch], max_image_pixels) if len(batch) > 1 else None
    decoded = {i: size for i, size in zip(batch, sizes or []) if size is not None}
    outcomes = []
    for i, c in enumerate(candidates):
        if isinstance(c, Outcome):
            outcomes.append(c)
        elif i in decoded:
            if isinstance(c, _Read):
                c = _Candidate(c.image_file, c.path, c.size, c.data, "jpeg", *decoded[i])
            outcomes.append(_accepted(c, c.data, c.format, ""))
        else:
            probed = _probe(c, max_image_pixels) if isinstance(c, _Read) else c
            outcomes.append(probed if isinstance(probed, Outcome) else _decode_checked(probed, decode_like_training))
    return outcomes


_BATCH_FORMATS = ("jpeg", "png")  # a GIF's first frame can cost all its frames; BMPs may need re-encoding
_BATCH_PIXELS = 1 << 20           # decoded in one call only up to 1 megapixel: the gain is for small images


@functools.lru_cache(maxsize=None)
def _batch_decoder():
    """A tf.function over a batch of encoded images: for each, the (height, width) its header declares
    (a JPEG's read in the graph, the others' given) and, when that is non-empty and at most `max_pixels`,
    the (height, width) the training decoder (`preprocessing.decode_rgb`) decodes, else (-1, -1): the
    decoder never runs on an image over the limit. Built once per process."""
    import tensorflow as tf

    from components.transform.preprocessing import decode_rgb

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.bool),
                                  tf.TensorSpec([None, 2], tf.int32), tf.TensorSpec([], tf.int64)])
    def checked_sizes(batch, header_in_graph, given_sizes, max_pixels):
        def one(element):
            data, in_graph, given = element
            declared = tf.cond(in_graph, lambda: tf.image.extract_jpeg_shape(data)[:2], lambda: given)
            height, width = tf.cast(declared[0], tf.int64), tf.cast(declared[1], tf.int64)
            fits = tf.logical_and(tf.logical_and(height > 0, width > 0), height * width <= max_pixels)
            size = tf.cond(fits, lambda: tf.shape(decode_rgb(data))[:2], lambda: tf.constant([-1, -1]))
            return tf.concat([declared, size], 0)
        return tf.map_fn(one, (batch, header_in_graph, given_sizes), fn_output_signature=tf.TensorSpec([4], tf.int32))
    return checked_sizes


atexit.register(_batch_decoder.cache_clear)  # freed while TensorFlow is still loaded, not at module teardown


def _decode_batch(files: List[Any], max_image_pixels: int) -> Optional[List[Optional[Tuple[int, int]]]]:
    """For each of `files` (a _Read JPEG or a probed _Candidate), its declared (height, width) when the
    training decoder decoded it in the batch call, None when it was left out (over the limit or
    _BATCH_PIXELS); None for the whole batch when the call failed (some header or image is bad)."""
    import tensorflow as tf

    limit = _BATCH_PIXELS if max_image_pixels <= 0 else min(max_image_pixels, _BATCH_PIXELS)
    try:
        rows = _batch_decoder()(
            tf.constant([f.data for f in files], dtype=tf.string),
            tf.constant([isinstance(f, _Read) for f in files], dtype=tf.bool),
            tf.constant([[0, 0] if isinstance(f, _Read) else [f.height, f.width] for f in files], dtype=tf.int32),
            tf.constant(limit, dtype=tf.int64)).numpy()
    except (tf.errors.OpError, ValueError):
        return None
    return [None if decoded_height < 0 else (int(height), int(width))
            for height, width, decoded_height, _ in rows]


@dataclass(frozen=True)
class _Read:
    """A file that passed the checks before its header is read: its path, size and bytes."""
    image_file: ImageFile
    path: str
    size: int
    data: bytes


@dataclass(frozen=True)
class _Candidate:
    """A file that passed the checks before decoding: its bytes and what its header says."""
    image_file: ImageFile
    path: str
    size: int
    data: bytes
    format: str
    height: int
    width: int


def _read_and_probe(root: str, image_file: ImageFile, max_image_pixels: int, max_file_mb: float):
    """The checks before any decoder runs: a _Candidate, or the quarantine Outcome."""
    read = _read_checked(root, image_file, max_file_mb)
    return read if isinstance(read, Outcome) else _probe(read, max_image_pixels)


def _read_checked(root: str, image_file: ImageFile, max_file_mb: float):
    """The file's bytes once it is a regular file within the size limit: a _Read, or the quarantine Outcome."""
    path = _join(root, *image_file.rel_path.split("/"))
    size = 0
    try:
        size = _regular_file_size(path)
        data = _read_capped(path, size, max_file_mb)
    except Exception as e:  # pylint: disable=broad-except  # BadImageError; an unexpected OS-level failure
        return _rejected(path, size, image_file, e)
    return _Read(image_file, path, size, data)


def _probe(read: _Read, max_image_pixels: int):
    """The header checks (format, declared size, the pixel limit) on read bytes: a _Candidate, or the Outcome.

    A JPEG header Pillow cannot parse is read by the training decoder's own header parser, as a batch
    does (`inspect_images`): when that reads it, the declared size is checked and the decoder decides."""
    try:
        try:
            image_format, height, width = probe_image(read.data, max_image_pixels)
        except UnparsedHeaderError:
            if not read.data.startswith(JPEG_MAGIC):
                raise
            image_format, (height, width) = "jpeg", _decoder_header_size(read.data, max_image_pixels)
    except Exception as e:  # pylint: disable=broad-except  # BadImageError; a parser bug on hostile bytes
        return _rejected(read.path, read.size, read.image_file, e)
    return _Candidate(read.image_file, read.path, read.size, read.data, image_format, height, width)


def _decoder_header_size(data: bytes, max_image_pixels: int) -> Tuple[int, int]:
    """(height, width) a JPEG's header declares to the training decoder (`tf.image.extract_jpeg_shape`), within
    the pixel limit; BadImageError otherwise."""
    import tensorflow as tf

    try:
        height, width = (int(v) for v in tf.image.extract_jpeg_shape(data)[:2])
    except (tf.errors.OpError, ValueError) as e:
        raise BadImageError(f"JPEG header cannot be parsed: {_op_message(str(e))}") from None
    check_declared_size("jpeg", height, width, max_image_pixels)
    return height, width


def _decode_checked(candidate: _Candidate, decode: Callable[[bytes], Tuple[int, int]]) -> Outcome:
    """The candidate through `decode` (the training decoder): accepted (maybe converted) or quarantined."""
    try:
        data, image_format, note = _decodable(candidate.data, candidate.format, decode)
    except Exception as e:  # pylint: disable=broad-except
        return _rejected(candidate.path, candidate.size, candidate.image_file, e)
    return _accepted(candidate, data, image_format, note)


def _accepted(candidate: _Candidate, data: bytes, image_format: str, note: str) -> Outcome:
    return Outcome(display_path(candidate.path), note=note, record=image_record(
        candidate.image_file, data, image_format, candidate.height, candidate.width))


def _rejected(path: str, size: int, image_file: ImageFile, error: Exception) -> Outcome:
    """The quarantine entry for `error`; an unexpected one (a parser bug on hostile bytes) is logged too."""
    if isinstance(error, BadImageError):
        reason = error.reason
    else:
        logging.warning("Unexpected error while checking %s", display_path(path), exc_info=error)
        reason = f"unexpected error while checking the file: {type(error).__name__}: {error}"
    shown = display_path(path)
    return Outcome(shown, quarantined=Quarantined(shown, reason, size, image_file.class_name))


def _regular_file_size(path: str) -> int:
    """Size in bytes of a regular file; BadImageError for what cannot or must not be opened."""
    if is_remote(path):
        try:
            return int(_gfile().stat(path).length)
        except Exception as e:  # tf.errors.OpError
            raise BadImageError(f"cannot be read: {e}") from None
    try:
        st = os.stat(path)  # follows symbolic links
    except OSError as e:
        raise BadImageError(_os_error_reason(path, e)) from None
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would block forever; a device could stream without end.
        raise BadImageError("not a regular file (a FIFO, socket or device): not read")
    return st.st_size


def _os_error_reason(path: str, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop: the link never reaches a file"
    if error.errno == errno.ENOENT and os.path.islink(path):
        return f"broken symbolic link: its target {os.readlink(path)!r} does not exist"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the file cannot be read by this user"
    return f"cannot be read: {error.strerror or error}"


def _read_capped(path: str, size: int, max_file_mb: float) -> bytes:
    """The file's bytes, never more than the size limit in memory."""
    max_bytes = int(max_file_mb * 2**20)
    if size > max_bytes:
        raise BadImageError(f"file is {size / 2**20:.1f} MB, above data.max_file_mb={max_file_mb:g}; not read")
    if size == 0:
        raise BadImageError("the file is empty (0 bytes)")
    try:
        data = _read_bytes(path, max_bytes)
    except OSError as e:
        raise BadImageError(_os_error_reason(path, e)) from None
    except Exception as e:  # tf.errors.OpError through gfile
        raise BadImageError(f"cannot be read: {e}") from None
    if len(data) > max_bytes:
        raise BadImageError(f"file grew above data.max_file_mb={max_file_mb:g} while being read; not ingested")
    return data


def _decodable(data: bytes, image_format: str, decode) -> Tuple[bytes, str, str]:
    """(bytes to store, their format, note) once the training decoder accepts them; BadImageError otherwise.

    TensorFlow's BMP decoder is its own minimal one (no 1- or 4-bit, no RLE):
    a BMP that Pillow decodes completely is re-encoded as an 8-bit RGB PNG
    rather than lost. Any other format TensorFlow rejects is truncated or corrupt.
    """
    try:
        decode(data)
        return data, image_format, ""
    except DecodeError as e:
        reason = str(e)
    png = _pillow_to_png(data) if image_format == "bmp" else None
    if png is not None:
        try:
            decode(png)
            return png, "png", f"BMP re-encoded as PNG: TensorFlow cannot decode it ({reason})"
        except DecodeError:
            pass
    raise BadImageError(f"{image_format.upper()} cannot be decoded (truncated or corrupt): {reason}")


def _pillow_to_png(data: bytes) -> Optional[bytes]:
    """A full, strict Pillow decode (pixel count already bounded) re-encoded as RGB PNG; None if it fails."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
    except (OSError, SyntaxError, ValueError, EOFError):
        return None
    return out.getvalue()
