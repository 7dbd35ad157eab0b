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
    _gfile,
    _join,
    _read_bytes,
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
    """`inspect_image` for a batch of files: the same checks, the same outcomes, in the same order.

    A decoder call from Python costs ~0.2 ms whatever the image (eager op dispatch), several times the
    decode of a small JPEG. So the JPEGs and PNGs that pass the header checks and are small
    (<= _BATCH_PIXELS) are decoded in one call; when that call succeeds every one of them is decodable
    by the training decoder. When it fails, each is decoded on its own as `inspect_image` does, which
    finds the culprit and its reason. Larger images, GIFs and BMPs are always decoded one by one.
    """
    read = [_read_and_probe(root, image_file, max_image_pixels, max_file_mb) for image_file in image_files]
    small = [i for i, r in enumerate(read) if isinstance(r, _Candidate) and r.format in _BATCH_FORMATS
             and r.height * r.width <= _BATCH_PIXELS]
    all_decode = len(small) > 1 and _decode_batch([read[i].data for i in small])
    batched = set(small) if all_decode else set()
    return [r if isinstance(r, Outcome) else
            _accepted(r, r.data, r.format, "") if i in batched else
            _decode_checked(r, decode_like_training)
            for i, r in enumerate(read)]


_BATCH_FORMATS = ("jpeg", "png")  # a GIF's first frame can cost all its frames; BMPs may need re-encoding
_BATCH_PIXELS = 1 << 20           # decoded in one call only up to 1 megapixel: the gain is for small images


@functools.lru_cache(maxsize=None)
def _batch_decoder():
    """A tf.function running the training decoder (`preprocessing.decode_rgb`) over a batch of encoded
    images; built once per process."""
    import tensorflow as tf

    from components.transform.preprocessing import decode_rgb

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def decoded_sizes(batch):
        return tf.map_fn(lambda e: tf.shape(decode_rgb(e))[:2], batch,
                         fn_output_signature=tf.TensorSpec([2], tf.int32))
    return decoded_sizes


atexit.register(_batch_decoder.cache_clear)  # freed while TensorFlow is still loaded, not at module teardown


def _decode_batch(encoded: List[bytes]) -> bool:
    """True when the training decoder accepts every one of `encoded`."""
    import tensorflow as tf

    try:
        _batch_decoder()(tf.constant(encoded, dtype=tf.string))
    except (tf.errors.OpError, ValueError):
        return False
    return True


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
    path = _join(root, *image_file.rel_path.split("/"))
    size = 0
    try:
        size = _regular_file_size(path)
        data = _read_capped(path, size, max_file_mb)
        image_format, height, width = probe_image(data, max_image_pixels)
    except Exception as e:  # pylint: disable=broad-except  # BadImageError; a parser bug on hostile bytes
        return _rejected(path, size, image_file, e)
    return _Candidate(image_file, path, size, data, image_format, height, width)


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
