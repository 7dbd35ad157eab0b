"""Small generated image folders for tests (nothing binary is checked in)."""
import os

import numpy as np
from PIL import Image

# Three classes a tiny CNN separates in a few epochs: the dominant colour channel.
COLOUR_CLASSES = {"blue": 2, "green": 1, "red": 0}


def colour_image(channel: int, size: int, rng: np.random.Generator) -> np.ndarray:
    image = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
    image[..., channel] = rng.integers(150, 256, (size, size))
    return image


def make_colour_folder(root: str, per_class: int = 30, size: int = 20, seed: int = 0) -> str:
    """<root>/<colour>/<i>.png|jpg: noisy images whose dominant channel is the class."""
    rng = np.random.default_rng(seed)
    for name, channel in COLOUR_CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            ext, fmt = (".jpg", "JPEG") if i % 3 == 0 else (".png", "PNG")
            Image.fromarray(colour_image(channel, size, rng)).save(
                os.path.join(root, name, f"{name}_{i:03d}{ext}"), format=fmt)
    return root


def encoded_colour_image(name: str, size: int = 20, seed: int = 999) -> bytes:
    """One held-out PNG of class `name`, drawn from a seed the folders never use."""
    import io
    buf = io.BytesIO()
    Image.fromarray(colour_image(COLOUR_CLASSES[name], size, np.random.default_rng(seed))).save(buf, "PNG")
    return buf.getvalue()


# What the compiled Kubeflow spec of the test suite is built with (conftest.py `kfp_yaml`).
KFP_IMAGE = "registry.example.com/team/imgpipe:1.2.3"
KFP_ROOT = "minio://mlpipeline/imgpipe"
KFP_DATA = "gs://bucket/images/2026-11-26"
KFP_SERVING = "gs://bucket/serving"
KFP_RESOURCES = ["kubeflow.trainer_cpu=4", "kubeflow.trainer_memory_gb=16", "kubeflow.trainer_gpus=1",
                 "kubeflow.trainer_gpu_type=nvidia.com/gpu", "data.schema_path=schemas/demo/schema.pbtxt"]
