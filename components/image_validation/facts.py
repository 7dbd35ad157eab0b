"""Per-image facts the image checks need, read from one serialized tf.Example.

A plain function (Pillow + hashlib on the tf.Example's bytes), so the same code
runs inside a Beam `Map` and in unit tests. Size and stored channel layout (mode)
come from the header; pixels are decoded only to make two small grayscale
thumbnails -- the 9x8 dHash one and an 8x8 one that confirms near-duplicates
(leakage.py) -- and the mean colour, JPEGs at 1/8 scale through Pillow's draft
mode (measured here before the 8x8 thumbnail: 0.7 ms for a 1024x768 JPEG, 10 ms
for the same PNG, 0.2 ms for a 48x48 PNG).
"""
import base64
import hashlib
import io
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Tuple

from schemas import features

DHASH_BITS = 64
_DHASH_WIDTH, _DHASH_HEIGHT = 9, 8  # 9 columns -> 8 horizontal differences per row, 8 rows
THUMB_SIDE = 8  # grey thumbnail compared pixel by pixel to confirm a near-duplicate (leakage.py)
SMALL_SIDE = 32  # images with a side below this are upsampled (bicubic) to it before the thumbnail


@dataclass(frozen=True)
class ImageFacts:
    split: str
    path: str
    label_name: str
    width: int
    height: int
    mode: str       # Pillow's mode as stored: "RGB", "L", "RGBA", "P", "CMYK", "I;16", ...
    channels: int   # bands of that mode (a palette image has 1: indices into its palette)
    sha256: str     # hex digest of the encoded bytes: identical files
    dhash: int      # 64-bit difference hash of the picture: near-duplicate candidates
    thumb: str      # base64 of an 8x8 uint8 grey thumbnail: confirms candidates (leakage.py)
    chroma: List[float] = (0.0, 0.0, 0.0)  # mean R, G, B minus their mean, 0-255 units: the colour (leakage.py)

    def to_dict(self) -> Dict[str, Any]:
        # Field by field: `dataclasses.asdict` deep-copies every value, 60 us per image of 32 px.
        return {f.name: type(self.chroma)(self.chroma) if f.name == "chroma" else getattr(self, f.name) for f in _FIELDS}


_FIELDS = fields(ImageFacts)


def _bytes_feature(example, key: str) -> bytes:
    values = example.features.feature[key].bytes_list.value
    return values[0] if values else b""


def _grayscale(image):
    """One channel without losing the picture: Pillow's 16-bit/32-bit -> "L" conversion clips at 255,
    which would make every 16-bit image one white square (and all of them near-duplicates)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        import numpy as np
        from PIL import Image
        return Image.fromarray(np.asarray(image, dtype=np.float32), mode="F")
    return image.convert("L")


def dhash(image) -> int:
    """Difference hash: is each pixel of a 9x8 grayscale thumbnail brighter than its right neighbour?

    Robust to re-encoding, resizing and small colour shifts, so two copies of one
    photo saved differently land within a few bits of each other.
    """
    return _dhash_of_grey(_grayscale(image))


def _dhash_of_grey(grey) -> int:
    """`dhash` of the `_grayscale` picture; the first comparison (top left) is the highest bit."""
    import numpy as np
    from PIL import Image
    pixels = np.asarray(grey.resize((_DHASH_WIDTH, _DHASH_HEIGHT), Image.Resampling.BOX))
    brighter = pixels[:, :-1] > pixels[:, 1:]  # rows of 8 comparisons, row by row
    return int.from_bytes(np.packbits(brighter.ravel()).tobytes(), "big")


def thumbnail(image) -> str:
    """8x8 grey thumbnail (box-filtered: each pixel the mean of its cell), base64.

    8x8, not 16x16: measured on real photos (bench/bench_duplicates.py), a 4% crop
    shifts a 16x16 thumbnail enough to decorrelate fine texture, and an 8x8 one
    still tells distinct pictures apart. A picture with a side under SMALL_SIDE is
    first upsampled to SMALL_SIDE x SMALL_SIDE: then an 8x8 digit and its copy
    enlarged x4 go through the same filters (box-filtering alone averages too few
    pixels of the small one: such copies correlated at 0.98, below distinct digits)."""
    return _thumbnail_of_grey(_grayscale(image))


def _thumbnail_of_grey(grey) -> str:
    """`thumbnail` of the `_grayscale` picture."""
    from PIL import Image
    if min(grey.size) < SMALL_SIDE:
        grey = grey.resize((SMALL_SIDE, SMALL_SIDE), Image.Resampling.BICUBIC)
    thumb = grey.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    if thumb.mode != "L":  # 16/32-bit pictures: stretch their own range onto 0..255
        import numpy as np
        pixels = np.asarray(thumb, dtype=np.float64)
        span = max(float(pixels.max() - pixels.min()), 1e-9)
        thumb = Image.fromarray(((pixels - pixels.min()) * 255 / span).round().astype(np.uint8), mode="L")
    return base64.b64encode(thumb.tobytes()).decode("ascii")


def chroma(image) -> List[float]:
    """Mean R, G, B minus their mean: the colour of the picture, unchanged by brightening (it adds the
    same to each channel). Two distinct drawings of one shape differ here (docs/real_data.md)."""
    import numpy as np
    if image.mode in ("I", "F") or image.mode.startswith("I;16") or image.mode in ("1", "L", "LA"):
        return [0.0, 0.0, 0.0]
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    # Exact integer sums per channel: the same means as float64 `mean`, ~10x faster than its strided reduction.
    means = np.array([rgb[..., c].sum(dtype=np.int64) for c in range(3)]) / (rgb.shape[0] * rgb.shape[1])
    return [round(float(v), 2) for v in means - means.mean()]


def _picture_facts(image) -> Tuple[int, str, List[float]]:
    """(dhash, thumbnail, chroma) of a decoded picture, converting it to grey once for both thumbnails."""
    grey = _grayscale(image)
    return _dhash_of_grey(grey), _thumbnail_of_grey(grey), chroma(image)


def _pillow_facts(encoded: bytes) -> Tuple[int, int, str, int, str, List[float]]:
    from PIL import Image
    with Image.open(io.BytesIO(encoded)) as image:
        width, height, mode = image.width, image.height, image.mode
        image.draft("RGB", (THUMB_SIDE * 4, THUMB_SIDE * 4))  # JPEG only: decode at 1/2..1/8 scale
        image.seek(0)  # GIFs: the first frame, as ingestion and Transform use
        image.load()
        return (width, height, mode, *_picture_facts(image))


def _tensorflow_facts(encoded: bytes) -> Tuple[int, int, str, int, str, List[float]]:
    """The fallback for a file TensorFlow decodes (ingestion guarantees that) but Pillow does not."""
    import tensorflow as tf
    from PIL import Image
    pixels = tf.io.decode_image(encoded, expand_animations=False).numpy()  # uint8 [H, W, C]
    height, width, channels = pixels.shape
    picture = Image.fromarray(pixels[..., 0] if channels <= 2 else pixels[..., :3])  # alpha does not count
    return (width, height, _MODE_OF_CHANNELS[channels], *_picture_facts(picture))


_MODE_OF_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def image_facts(serialized: bytes, split: str) -> ImageFacts:
    """Facts of one serialized tf.Example written by the image ExampleGen."""
    import tensorflow as tf
    from PIL import Image

    example = tf.train.Example.FromString(serialized)
    encoded = _bytes_feature(example, features.IMAGE_KEY)
    try:
        width, height, mode, picture_hash, thumb, colour = _pillow_facts(encoded)
    except (OSError, ValueError, Image.DecompressionBombError):
        width, height, mode, picture_hash, thumb, colour = _tensorflow_facts(encoded)
    return ImageFacts(
        split=split,
        path=_bytes_feature(example, features.PATH_KEY).decode("utf-8", "replace"),
        label_name=_bytes_feature(example, features.LABEL_NAME_KEY).decode("utf-8", "replace"),
        width=width, height=height, mode=mode, channels=Image.getmodebands(mode),
        sha256=hashlib.sha256(encoded).hexdigest(),
        dhash=picture_hash, thumb=thumb, chroma=colour)

