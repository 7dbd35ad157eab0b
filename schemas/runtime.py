"""The process settings every layer relies on, set before TensorFlow is first imported."""
import os


def use_keras2() -> None:
    """Make `tf.keras` the Keras 2 package (tf_keras) that the whole TFX 1.16 stack is built on.

    TensorFlow reads TF_USE_LEGACY_KERAS once, when it is first imported, so this
    runs from the `__init__` of each package that can be an entry point (`pipeline`,
    `components`): those run before any of their modules' imports. A value the user
    set already wins. The Dockerfile and the test configuration set it as well.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


# Components log progress a person should see during `imgpipe run` (e.g. one line per epoch) here;
# the CLI shows this logger's records on the console unless --quiet (pipeline/local/progress.py).
PROGRESS_LOGGER = "imgpipe.progress"
