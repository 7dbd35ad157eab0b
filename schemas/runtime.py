"""The process settings every layer relies on, set before TensorFlow is first imported."""
import os


# What each variable fixes; TensorFlow reads both once, when it first loads. A value the user set wins.
TENSORFLOW_ENV = {
    # `tf.keras` is the Keras 2 package (tf_keras) that the whole TFX 1.16 stack is built on.
    "TF_USE_LEGACY_KERAS": "1",
    # oneDNN 3.x as bundled in TensorFlow 2.16 corrupts the heap in the backward-filter convolution on some
    # AVX-512 CPUs ("munmap_chunk(): invalid pointer", then SIGABRT/SIGSEGV in model.fit; seen on a Xeon
    # with AVX512_FP16/AMX, e.g. with 8-filter 16 px networks). Capping its instruction set at AVX2 avoids
    # it: ~30% slower training on such CPUs (docs/performance.md), no change elsewhere.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    # TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on an
    # AVX2-only CPU it runs its Eigen kernels, whose backward-input convolution is ~4x slower on the small
    # feature maps of our networks (a 4x4x128 map: 9-11 ms against 2.4 ms per batch of 32). On, the Trainer
    # trains ~1.1-1.3x faster there (docs/performance.md#onednn-on-cpus-without-avx-512), the AVX2 cap above
    # keeps the kernels the AVX-512 machines run too, and on those CPUs nothing changes (already on).
    "TF_ENABLE_ONEDNN_OPTS": "1",
}


def set_tensorflow_env() -> None:
    """Set TENSORFLOW_ENV where the user has not, before TensorFlow is imported.

    This runs from the `__init__` of each package that can be an entry point (`pipeline`,
    `components`): those run before any of their modules' imports. The Dockerfile sets the same
    variables, and tests/conftest.py calls this.
    """
    for name, value in TENSORFLOW_ENV.items():
        os.environ.setdefault(name, value)


# Components log progress a person should see during `imgpipe run` (e.g. one line per epoch) here;
# the CLI shows this logger's records on the console unless --quiet (pipeline/local/progress.py).
PROGRESS_LOGGER = "imgpipe.progress"
