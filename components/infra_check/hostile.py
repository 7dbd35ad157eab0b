"""Requests a served model must refuse: decompression bombs of each format and garbage.

InfraCheck replays `hostile_requests()` through both signatures in its fresh process (replay.py) and
blocks a push unless each is refused by the serving guard (components/trainer/serving_guard.py)
before decoding. The makers are also the fuzz corpus of tests/test_serving_guard.py and
bench/bench_serving_guard.py. Every bomb is built in memory from a few bytes of header; `png_bomb`
with all its rows compresses rows of zeros, the 746 KB file of issue 25 at 16000x16000.
"""
from __future__ import annotations

import io
import struct
import zlib
from typing import Dict, List, Tuple

from components.trainer.serving_guard import REFUSED
from schemas import features

# Above every allowed serving.max_image_pixels (schemas/config/data.py MAX_DECODABLE_PIXELS) and above
# what TensorFlow's PNG decoder itself accepts: an unguarded model fails it without allocating 3 GB.
INFRA_BOMB_SIDE = 32768
GARBAGE = bytes(range(256)) * 4


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, rows: int = -1, bit_depth: int = 8) -> bytes:
    """An RGB PNG declaring width x height whose pixels are zeros; `rows` >= 0 writes only that many
    rows (a truncated file that declares the same size, cheap to make)."""
    compressor, row = zlib.compressobj(9), b"\x00" * (1 + width * 3 * bit_depth // 8)
    data = b"".join(compressor.compress(row) for _ in range(height if rows < 0 else rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def jpeg_bomb(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to declare width x height."""
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_bomb(width: int, height: int, frames: int = 1) -> bytes:
    """A GIF whose logical screen is width x height, holding `frames` frames of one pixel each:
    TensorFlow's decoder allocates every frame at the screen's size."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    # one pixel of colour 0, LZW code size 2: clear (4), 0, end (5) as 3-bit codes, least significant first
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame * frames + b"\x3b"


def serialized_example(encoded: bytes) -> bytes:
    """A tf.Example holding `encoded` as its image, as the serving_default signature takes it."""
    import tensorflow as tf
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))})).SerializeToString()


def request_inputs(signature: str, images: List[bytes]) -> Dict[str, List[bytes]]:
    """The input of `signature` that carries `images`."""
    if signature == features.EXAMPLES_SIGNATURE:
        return {features.EXAMPLES_INPUT: [serialized_example(i) for i in images]}
    return {features.BYTES_INPUT: list(images)}


def hostile_requests() -> List[Tuple[str, str, Dict[str, List[bytes]]]]:
    """(what, signature, inputs) that InfraCheck replays: each must be refused by the serving guard."""
    bomb = png_bomb(INFRA_BOMB_SIDE, INFRA_BOMB_SIDE, rows=1)
    return [(what, signature, request_inputs(signature, [image]))
            for what, image in ((f"a PNG declaring {INFRA_BOMB_SIDE}x{INFRA_BOMB_SIDE} pixels", bomb),
                                ("1 KB of garbage bytes", GARBAGE))
            for signature in (features.EXAMPLES_SIGNATURE, features.BYTES_SIGNATURE)]


def refused_by_guard(error_message: str) -> bool:
    return REFUSED in error_message
