"""The size an encoded image declares in its header, read with TensorFlow ops alone (no pixel decoded).

Runs inside the serving signatures (serving_guard.py), so TF Serving executes it: no Python, no Pillow.
One pass for a whole request, vectorised over its images:

- PNG: the IHDR chunk, big-endian width and height at bytes 16 and 20;
- GIF: the logical screen, little-endian 16-bit width and height at bytes 6 and 8, and an upper bound
  on its frames: TensorFlow's GIF decoder allocates every frame at the screen's size, even when only
  the first is kept, so a file of many tiny frames is a bomb too. Each frame's image descriptor (0x2C)
  but the first follows a block terminator (0x00), and the first usually does too (a graphic control
  extension or a colour table ending in black), so the count of the byte pair 0x00 0x2C (at least 1)
  is the frame count, or one below it; LZW data holds the pair by chance about once per 64 KB;
- BMP: width and height at 18 and 22 (32-bit signed, a negative height is a top-down image), or 16-bit
  at 18 and 20 in the old OS/2 core header;
- JPEG: the frame header (SOF0-SOF15 but DHT, JPG and DAC), found by walking the marker segments
  from byte 2 in a `tf.while_loop` of at most MAX_JPEG_MARKERS steps: each step reads one marker and
  jumps over its segment, so a file of any length costs at most that many small reads.

A format not recognised, a header cut short or a JPEG without a frame header before its scan gives
(0, 0): nothing declared, which the guard refuses. Every format but GIF declares 1 frame.
"""
from __future__ import annotations

import tensorflow as tf

# Real JPEGs have a few dozen segments before the frame header (APPn, DQT, DHT, ICC chunks); a file
# still without one after this many markers is refused, so a crafted one cannot spin the loop.
MAX_JPEG_MARKERS = 256
_HEAD_BYTES = 26  # enough for the PNG, GIF and BMP fields above
_PNG_MAGIC = (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A)
_GIF_MAGIC = (0x47, 0x49, 0x46, 0x38)  # "GIF8": GIF87a and GIF89a
_BMP_MAGIC = (0x42, 0x4D)              # "BM"
_JPEG_MAGIC = (0xFF, 0xD8, 0xFF)
_BMP_CORE_HEADER = 12                  # OS/2 BITMAPCOREHEADER: 16-bit sizes
# Markers without a length field: TEM, RST0-7, SOI.
_STANDALONE = (0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8)
_SOF = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def read_bytes(images: tf.Tensor, offsets: tf.Tensor, size: int) -> tf.Tensor:
    """int64 [N, size]: `size` bytes of each image from its offset, zeros past its end."""
    offsets = tf.minimum(tf.cast(offsets, tf.int32), tf.strings.length(images))
    pieces = tf.strings.substr(images, offsets, tf.fill(tf.shape(offsets), size))
    return tf.cast(tf.reshape(tf.io.decode_raw(pieces, tf.uint8, fixed_length=size), [-1, size]), tf.int64)


def _number(raw: tf.Tensor, little_endian: bool) -> tf.Tensor:
    """[N, k] bytes -> [N] unsigned integers."""
    k = raw.shape[-1]
    weights = tf.constant([256 ** i for i in (range(k) if little_endian else reversed(range(k)))], tf.int64)
    return tf.reduce_sum(raw * weights, axis=-1)


def _starts_with(head: tf.Tensor, magic) -> tf.Tensor:
    return tf.reduce_all(tf.equal(head[:, :len(magic)], tf.constant(magic, tf.int64)), axis=-1)


def _is_any(values: tf.Tensor, choices) -> tf.Tensor:
    return tf.reduce_any(tf.equal(values[..., None], tf.constant(choices, tf.int64)), axis=-1)


def _signed32(value: tf.Tensor) -> tf.Tensor:
    return tf.where(value >= 2**31, value - 2**32, value)


def _bmp_size(head: tf.Tensor) -> tf.Tensor:
    core = _number(head[:, 14:18], little_endian=True) == _BMP_CORE_HEADER
    width = tf.where(core, _number(head[:, 18:20], True), _signed32(_number(head[:, 18:22], True)))
    height = tf.where(core, _number(head[:, 20:22], True), tf.abs(_signed32(_number(head[:, 22:26], True))))
    return tf.stack([width, height], axis=-1)


def _jpeg_step(images, lengths, pos, sizes):
    """One marker per still-searching image: a frame header ends its search, anything else is skipped."""
    seg = read_bytes(images, pos, 9)
    marker = seg[:, 1]
    searching = sizes[:, 0] < 0
    broken = (seg[:, 0] != 0xFF) | (pos + 4 > lengths) | _is_any(marker, (0xD9, 0xDA))  # EOI or scan first
    found = _is_any(marker, _SOF) & ~broken
    one, two = tf.ones_like(pos), 2 * tf.ones_like(pos)
    step = tf.where(marker == 0xFF, one, tf.where(_is_any(marker, _STANDALONE), two, two + _number(seg[:, 2:4], False)))
    frame = tf.stack([_number(seg[:, 7:9], False), _number(seg[:, 5:7], False)], axis=-1)
    sizes = tf.where((searching & found)[:, None], frame,
                     tf.where((searching & broken)[:, None], tf.zeros_like(sizes), sizes))
    return tf.where(searching & ~found & ~broken, pos + step, pos), sizes


def _jpeg_sizes(images: tf.Tensor, is_jpeg: tf.Tensor) -> tf.Tensor:
    lengths = tf.cast(tf.strings.length(images), tf.int64)
    pos = tf.fill(tf.shape(lengths), tf.constant(2, tf.int64))
    sizes = -tf.ones([tf.size(lengths), 2], tf.int64) * tf.cast(is_jpeg, tf.int64)[:, None]  # -1: searching
    _, _, sizes = tf.while_loop(
        lambda i, p, s: (i < MAX_JPEG_MARKERS) & tf.reduce_any(s[:, 0] < 0),
        lambda i, p, s: (i + 1, *_jpeg_step(images, lengths, p, s)),
        (tf.constant(0), pos, sizes))
    return tf.maximum(sizes, 0)  # still searching after MAX_JPEG_MARKERS: nothing declared


def gif_frame_bound(images: tf.Tensor) -> tf.Tensor:
    """int64 [N]: the number of frames each image would hold if it were a GIF, or one below (see above)."""
    return tf.maximum(tf.strings.split(images, sep="\x00\x2c").row_lengths() - 1, 1)


def declared_sizes(images: tf.Tensor) -> tf.Tensor:
    """int64 [N, 3]: (width, height, frames) each of N encoded images declares; width and height 0
    when none can be read."""
    images = tf.reshape(images, [-1])
    head = read_bytes(images, tf.zeros_like(tf.strings.length(images)), _HEAD_BYTES)
    png = tf.stack([_number(head[:, 16:20], False), _number(head[:, 20:24], False)], axis=-1)
    gif = tf.stack([_number(head[:, 6:8], True), _number(head[:, 8:10], True)], axis=-1)
    is_jpeg, is_gif = _starts_with(head, _JPEG_MAGIC), _starts_with(head, _GIF_MAGIC)
    jpeg = tf.cond(tf.reduce_any(is_jpeg), lambda: _jpeg_sizes(images, is_jpeg), lambda: tf.zeros_like(png))
    sizes = tf.zeros_like(png)
    for is_format, size in ((_starts_with(head, _PNG_MAGIC), png), (is_gif, gif),
                            (_starts_with(head, _BMP_MAGIC), _bmp_size(head)), (is_jpeg, jpeg)):
        sizes = tf.where(is_format[:, None], size, sizes)
    sizes = tf.where(tf.reduce_all(sizes > 0, axis=-1, keepdims=True), sizes, tf.zeros_like(sizes))
    one = tf.ones_like(sizes[:, 0])
    frames = tf.cond(tf.reduce_any(is_gif), lambda: tf.where(is_gif, gif_frame_bound(images), one), lambda: one)
    return tf.concat([sizes, frames[:, None]], axis=-1)
