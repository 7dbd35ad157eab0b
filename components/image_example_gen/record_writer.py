"""How the image ExampleGen writes its split TFRecords: gzip, as TFX's ExampleGen writes them, without deflating.

The files are gzip as every TFX component and reader here expects (`.gz`), but deflate runs in its stored
mode (level 0): the images are already compressed (JPEG, PNG, GIF), so deflating them saved 0.4% of the
bytes of 600 JPEGs of 256 px at 0.77 ms per image, 2x the time TensorFlow takes to decode one (level 0:
0.07 ms; docs/performance.md#ingestion-written-without-deflate-2026-12-07). Each record's checksums
(TFRecord framing: masked CRC-32C of the length and of the data) come from google-crc32c's hardware
implementation: Beam's fallback without python-snappy (crcmod) took 0.09 ms per 38 KB image, this 0.008.
"""
from __future__ import annotations

import struct
import zlib

import apache_beam as beam
import google_crc32c
from apache_beam.io import tfrecordio
from apache_beam.io.filesystem import CompressionTypes

GZIP_LEVEL = 0  # deflate's stored mode: still gzip (any gzip reader reads it), without the compression search
_GZIP_WBITS = 31  # zlib's gzip container: header (mtime 0, so equal records give equal files) and trailer


class _StoredGzip:
    """A write-only gzip stream over `raw` at GZIP_LEVEL; closing it ends the stream and closes `raw`."""

    def __init__(self, raw):
        self._raw = raw
        self._deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)

    def write(self, data: bytes) -> None:
        self._raw.write(self._deflate.compress(data))

    def close(self) -> None:
        self._raw.write(self._deflate.flush())
        self._raw.close()


def _masked_crc(data: bytes) -> bytes:
    return struct.pack("<I", tfrecordio._TFRecordUtil._masked_crc32c(data, crc32c_fn=google_crc32c.value))


class _StoredGzipTFRecordSink(tfrecordio._TFRecordSink):
    """Beam's TFRecord sink (temporary files, then renamed into place) writing the stored gzip above."""

    def open(self, temp_path):
        return _StoredGzip(super().open(temp_path))

    def write_encoded_record(self, file_handle, value: bytes) -> None:
        length = struct.pack("<Q", len(value))
        file_handle.write(b"".join([length, _masked_crc(length), value, _masked_crc(value)]))


def write_split_records(file_path_prefix: str) -> beam.PTransform:
    """Beam's WriteToTFRecord with the gzip suffix, the records deflated at GZIP_LEVEL (the module's docstring)."""
    return beam.io.Write(_StoredGzipTFRecordSink(
        file_path_prefix, beam.coders.BytesCoder(), file_name_suffix=".gz", num_shards=0, shard_name_template=None,
        compression_type=CompressionTypes.UNCOMPRESSED))
