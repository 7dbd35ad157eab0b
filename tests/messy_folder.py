"""A generated image folder with every kind of file real folders contain (nothing binary is checked in).

`make_messy_folder` returns the root and what ingestion must make of each file:
INGESTED (relative path -> expected format) and QUARANTINED (relative path ->
a fragment of the reason). Odd-but-valid images are ingested; broken ones are not.
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

# Classes and how many plain good images each gets (min_images_per_class defaults to 5).
GOOD_PER_CLASS = 5


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _rgb(seed: int, size=(12, 10)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_chunks(width: int, height: int, bit_depth: int, colour_type: int, raw_rows: bytes) -> bytes:
    """A minimal PNG written by hand: Pillow cannot write 16-bit RGB, nor lie about the size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw_rows))
            + chunk(b"IEND", b""))


def png16_rgb(seed: int = 1, width: int = 12, height: int = 10) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 65536, (height, width, 3)).astype(">u2")
    return png_chunks(width, height, 16, 2, b"".join(b"\x00" + row.tobytes() for row in pixels))


def bomb_png(side: int = 30000) -> bytes:
    """A PNG whose header declares side x side 8-bit RGB pixels, with a few bytes of (invalid) data."""
    return png_chunks(side, side, 8, 2, b"\x00" * 16)


def animated_gif() -> bytes:
    frames = [_rgb(7).convert("P"), Image.new("RGB", (12, 10), (0, 255, 0)).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


ODD_IMAGES = {  # relative path -> (bytes builder, expected stored format)
    "cat/odd 16-bit.png": (lambda: png16_rgb(), "png"),
    "cat/odd_16bit_gray.png": (lambda: encode(Image.fromarray(
        (np.arange(120).reshape(10, 12) * 500).astype(np.uint16)), "PNG"), "png"),
    "cat/odd_cmyk.jpg": (lambda: encode(_rgb(2).convert("CMYK"), "JPEG"), "jpeg"),
    "cat/odd_rgba.png": (lambda: encode(_rgb(3).convert("RGBA"), "PNG"), "png"),
    "cat/odd_palette.png": (lambda: encode(_rgb(4).convert("P"), "PNG"), "png"),
    "cat/odd_gray.jpg": (lambda: encode(_rgb(5).convert("L"), "JPEG"), "jpeg"),
    "cat/odd_animated.gif": (animated_gif, "gif"),
    "cat/odd_24bit.bmp": (lambda: encode(_rgb(6), "BMP"), "bmp"),
    "cat/odd_1bit.bmp": (lambda: encode(_rgb(8).convert("1"), "BMP"), "png"),  # TF rejects 1-bit BMP
}


def _truncated(data: bytes, keep: float) -> bytes:
    return data[:int(len(data) * keep)]


BROKEN = {  # relative path -> (bytes builder, reason fragment)
    "dog/truncated.jpg": (lambda: _truncated(encode(_rgb(20, (64, 48)), "JPEG"), 0.5), "JPEG cannot be decoded"),
    # Only the last chunk's CRC and IEND are cut: Pillow decodes it, TensorFlow does not.
    "dog/truncated_end.png": (lambda: encode(_rgb(21), "PNG")[:-20], "PNG cannot be decoded"),
    "dog/empty.jpg": (lambda: b"", "empty (0 bytes)"),
    "dog/text.jpg": (lambda: b"this is a text file, not a JPEG\n", "not JPEG, PNG, GIF or BMP"),
    "dog/html.png": (lambda: b"<html><body>404 Not Found</body></html>", "not JPEG, PNG, GIF or BMP"),
    "dog/bomb.png": (bomb_png, "above data.max_image_pixels"),
}


def make_messy_folder(root: str) -> str:
    """Build the tree under `root` (which must not exist) and return it."""
    for class_name in ("cat", "dog"):
        os.makedirs(os.path.join(root, class_name))
        for i in range(GOOD_PER_CLASS):
            fmt, ext = ("JPEG", "jpg") if i % 2 else ("PNG", "png")
            with open(os.path.join(root, class_name, f"good_{i}.{ext}"), "wb") as f:
                f.write(encode(_rgb(100 + i + (50 if class_name == "dog" else 0)), fmt))
    for table in (ODD_IMAGES, BROKEN):
        for rel, (build, _) in table.items():
            with open(os.path.join(root, rel), "wb") as f:
                f.write(build())
    _add_file_system_oddities(root)
    return root


SPECIAL_INGESTED = {"dog/with space (1).png": "png", "dog/caf\udce9.png": "png"}
SPECIAL_QUARANTINED = {
    "dog/loop.jpg": "symbolic link loop",
    "dog/dangling.png": "broken symbolic link",
    "dog/pipe.jpg": "not a regular file",        # a FIFO: unreadable for root too (chmod 000 is not)
    "dog/huge.png": "above data.max_file_mb",    # a sparse 60 MB file: never read
}
SKIPPED = {".DS_Store": "hidden", "dog/.DS_Store": "hidden", "dog/notes.txt": "not an image extension",
           "dog/photo.webp": "not an image extension", "cat/.hidden.png": "hidden",
           "dog/again": "already scanned", "empty_class": "not used as a class"}


def _add_file_system_oddities(root: str) -> None:
    dog = os.path.join(root, "dog")
    good_png = encode(_rgb(30), "PNG")
    with open(os.path.join(dog, "with space (1).png"), "wb") as f:
        f.write(good_png)
    with open(os.path.join(os.fsencode(dog), b"caf\xe9.png"), "wb") as f:  # Latin-1 name, not UTF-8
        f.write(encode(_rgb(31), "PNG"))
    os.symlink("loop.jpg", os.path.join(dog, "loop.jpg"))
    os.symlink("missing.png", os.path.join(dog, "dangling.png"))
    os.mkfifo(os.path.join(dog, "pipe.jpg"))
    with open(os.path.join(dog, "huge.png"), "wb") as f:
        f.write(good_png)
        f.truncate(60 * 2**20)
    os.symlink(".", os.path.join(dog, "again"))           # a folder link back to its own folder
    os.makedirs(os.path.join(dog, "folder.jpg"))           # a folder with an image name: just a folder
    for rel in (".DS_Store", "dog/.DS_Store", "cat/.hidden.png"):
        with open(os.path.join(root, rel), "wb") as f:
            f.write(b"\x00\x01 finder data")
    for rel in ("dog/notes.txt", "dog/photo.webp"):
        with open(os.path.join(root, rel), "w") as f:
            f.write("not ingested")
    os.makedirs(os.path.join(root, "empty_class"))


def expected_ingested():
    return {**{rel: fmt for rel, (_, fmt) in ODD_IMAGES.items()}, **SPECIAL_INGESTED,
            **{f"{c}/good_{i}.{'jpg' if i % 2 else 'png'}": "jpeg" if i % 2 else "png"
               for c in ("cat", "dog") for i in range(GOOD_PER_CLASS)}}


def expected_quarantined():
    return {**{rel: reason for rel, (_, reason) in BROKEN.items()}, **SPECIAL_QUARANTINED}
