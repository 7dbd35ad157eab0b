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


# oneDNN 3.x as bundled in TensorFlow 2.16 corrupts the heap in the backward-filter convolution on some
# AVX-512 CPUs ("munmap_chunk(): invalid pointer", then SIGABRT/SIGSEGV in model.fit; seen on a Xeon with
# AVX512_FP16/AMX, e.g. with 8-filter 16 px networks). Capping oneDNN's instruction set at AVX2 avoids it:
# ~30% slower training on such CPUs (docs/performance.md), none elsewhere. A value the user set wins.
ONEDNN_ISA_CAP = "AVX2"


def cap_onednn_isa() -> None:
    """Keep oneDNN's kernels on AVX2 unless the user chose otherwise (ONEDNN_MAX_CPU_ISA, read once by
    oneDNN when TensorFlow first runs an op, so this runs with use_keras2 from each entry package)."""
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", ONEDNN_ISA_CAP)


# Components log progress a person should see during `imgpipe run` (e.g. one line per epoch) here;
# the CLI shows this logger's records on the console unless --quiet (pipeline/local/progress.py).
PROGRESS_LOGGER = "imgpipe.progress"
