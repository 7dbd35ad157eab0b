"""Refuse a request before decoding any image in it: what one request to a served model may hold.

Both serving signatures (serving.py) pass their encoded images through `guard()` first. It checks,
in TensorFlow ops that TF Serving runs, cheapest first:

1. the number of images, against `serving.max_batch_images`;
2. each image's encoded size, against `serving.max_image_bytes`;
3. that each image declares a size in a JPEG, PNG, GIF or BMP header (image_headers.py);
4. the pixels it declares (width x height x GIF frames), against `serving.max_image_pixels`.

A request that breaks a rule is refused whole with InvalidArgumentError (TF Serving: HTTP 400, gRPC
INVALID_ARGUMENT) naming the first offending image's index and the figure, e.g.
`request refused: image 1 declares 16000x16000 pixels (1 frame(s)), above serving.max_image_pixels=50000000`. The
images reach the decoder only through a control dependency on every check, so no pixel of a refused
request is ever allocated.
"""
from __future__ import annotations

import re
from typing import Optional

import tensorflow as tf

from components.trainer.image_headers import declared_sizes
from components.trainer.spec import ServingLimits

REFUSED = "request refused: "  # every refusal starts so (InfraCheck and `imgpipe predict` look for it)


def _first(bad: tf.Tensor) -> tf.Tensor:
    """The index of the first True in `bad` ([N] bool); N when there is none."""
    hits = tf.cast(tf.where(bad)[:, 0], tf.int32)
    return tf.reduce_min(tf.concat([hits, tf.shape(bad)], axis=0))


def _refuse_if(bad: tf.Tensor, template: str, *columns: tf.Tensor) -> tf.Operation:
    """Assert that no image is `bad`, the message `template` filled with the first bad image's
    index and its value in each of `columns` ([N] tensors)."""
    index = _first(bad)
    padded = [tf.gather(tf.concat([c, tf.zeros([1], c.dtype)], axis=0), index) for c in columns]
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)),
                               [tf.strings.format(REFUSED + template, (index, *padded))], name="serving_guard")


def guard(images: tf.Tensor, limits: ServingLimits) -> tf.Tensor:
    """`images` ([N] encoded), released to the decoder only once every rule above holds."""
    images = tf.reshape(images, [-1])
    count = tf.size(images)
    too_many = tf.debugging.Assert(count <= limits.max_batch_images, [tf.strings.format(
        REFUSED + "the request holds {} images, above serving.max_batch_images={}", (count, limits.max_batch_images))],
        name="serving_guard_batch")
    with tf.control_dependencies([too_many]):
        lengths = tf.strings.length(images)
        too_big = _refuse_if(lengths > limits.max_image_bytes,
                             f"image {{}} is {{}} bytes, above serving.max_image_bytes={limits.max_image_bytes}",
                             lengths)
    with tf.control_dependencies([too_big]):
        sizes = declared_sizes(images)
        width, height, frames = sizes[:, 0], sizes[:, 1], sizes[:, 2]
        unreadable = _refuse_if(width <= 0, "image {} declares no size: it is not a JPEG, PNG, GIF or BMP image, "
                                "or its header is cut short")
        pixels = width * height * frames
        too_large = _refuse_if(pixels > limits.max_image_pixels, "image {} declares {}x{} pixels ({} frame(s)), "
                               f"above serving.max_image_pixels={limits.max_image_pixels}", width, height, frames)
    with tf.control_dependencies([unreadable, too_large]):
        return tf.identity(images)


def refusal(error_message: str) -> Optional[str]:
    """The guard's one-line reason inside a TensorFlow error message, or None if it is another error."""
    found = re.search(re.escape(REFUSED) + r"([^\]\n']*)", error_message)
    return found.group(1) if found else None
