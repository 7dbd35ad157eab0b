"""ExampleGen for a folder of images: `<data root>/<class_name>/<image files>` -> tf.Examples.

`folder` is plain Python (fast to import, used by the CLI pre-flight); the
executor and component pull in TFX and Beam, so they load only when asked for.
"""
from components.image_example_gen.folder import (
    IMAGE_EXTENSIONS,
    BadImageError,
    FolderScan,
    ImageFile,
    ImageFolderError,
    display_path,
    probe_image,
    read_image,
    scan_image_folder,
    to_tf_example,
)
from components.image_example_gen.limits import IngestionLimitError
from components.image_example_gen.quarantine import Quarantined, decode_like_training, inspect_image
from components.image_example_gen.spec import IngestLimits

_LAZY = {
    "create_image_example_gen": "components.image_example_gen.component",
    "Executor": "components.image_example_gen.executor",
}

__all__ = [
    "IMAGE_EXTENSIONS", "BadImageError", "FolderScan", "ImageFile", "ImageFolderError",
    "probe_image", "read_image", "scan_image_folder", "to_tf_example", "display_path",
    "IngestionLimitError", "IngestLimits", "Quarantined", "decode_like_training", "inspect_image", *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
