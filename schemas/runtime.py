"""The process settings every layer relies on, set before TensorFlow is first imported."""
import os
import sys
from typing import TYPE_CHECKING, Tuple

from schemas.backbones import BACKBONES, RESNET_CNN

if TYPE_CHECKING:  # schemas.config is not imported at run time: this module loads first in every process
    from schemas.config import ModelConfig


ONEDNN_ISA = "ONEDNN_MAX_CPU_ISA"
ONEDNN_SAFE_ISA, ONEDNN_FAST_ISA = "AVX2", "AVX512_CORE"
ONEDNN_SAFE_CHANNELS = 16  # AVX-512's width in floats: convolutions whose channel counts are multiples of it

# What each variable fixes; TensorFlow reads both once, when it first loads. A value the user set wins.
TENSORFLOW_ENV = {
    # `tf.keras` is the Keras 2 package (tf_keras) that the whole TFX 1.16 stack is built on.
    "TF_USE_LEGACY_KERAS": "1",
    # oneDNN 3.3 as bundled in TensorFlow 2.16 corrupts the heap in its AVX-512 backward-weights convolution
    # when a layer's input has fewer than 16 channels ("munmap_chunk(): invalid pointer", then SIGABRT /
    # SIGSEGV / SIGILL in model.fit; e.g. the 8-filter 16 px networks of the tests, with an odd batch).
    # AVX2 is the safe cap for any process; `imgpipe run` lifts it to AVX512_CORE before TensorFlow loads
    # when every network the run trains is safe (onednn_isa below; ~1.5-2x faster training there), and the
    # Kubeflow compiler writes that value into the training containers' environment.
    ONEDNN_ISA: ONEDNN_SAFE_ISA,
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
        if name not in os.environ:
            os.environ[name] = value
            if name == ONEDNN_ISA:
                os.environ[ONEDNN_ISA_OURS] = value


# The ONEDNN_MAX_CPU_ISA value this module set, passed on to child processes with it, so that an `imgpipe run`
# started by one of ours (a benchmark, a script) tells our value from the user's and decides for its own network.
ONEDNN_ISA_OURS = "IMGPIPE_ONEDNN_MAX_CPU_ISA"


def onednn_isa(model: "ModelConfig") -> Tuple[str, str]:
    """The ONEDNN_MAX_CPU_ISA a run training `model` (the config's `model`) can use, and why, in one line.

    AVX512_CORE for the residual CNN when its stem and every stage have a multiple of 16 filters, so that
    no convolution after the stem reads fewer than 16 channels (the stem reads the 3-channel image, a
    first-layer case oneDNN handles apart); the Tuner's widths (16, 32, 48, 64 and the stem's) keep that.
    AVX512_CORE for the Keras applications backbones (schemas/backbones.py), whose layers were trained at
    AVX512_CORE with odd batches, frozen and whole, under glibc's heap checks, and whose gradients matched
    AVX2's (their only convolutions reading fewer than 16 channels are squeeze-and-excite layers on 1x1
    maps). AVX2 otherwise. Evidence: docs/performance.md#onednn-on-avx-512-which-networks-are-safe.
    """
    if BACKBONES[model.backbone].onednn_avx512:
        return ONEDNN_FAST_ISA, f"model.backbone={model.backbone}, checked against oneDNN's AVX-512 bug"
    if model.backbone != RESNET_CNN:
        return ONEDNN_SAFE_ISA, f"model.backbone={model.backbone} is not checked against oneDNN's AVX-512 bug"
    odd = [f"model.stem_filters={model.stem_filters}"] if model.stem_filters % ONEDNN_SAFE_CHANNELS else []
    odd += ([f"model.stage_filters={list(model.stage_filters)}"]
            if any(f % ONEDNN_SAFE_CHANNELS for f in model.stage_filters) else [])
    if odd:
        return ONEDNN_SAFE_ISA, (f"{' and '.join(odd)}: not all multiples of {ONEDNN_SAFE_CHANNELS}, so oneDNN's "
                                 "AVX-512 backward-weights convolution could corrupt memory")
    return ONEDNN_FAST_ISA, f"every convolution has a multiple of {ONEDNN_SAFE_CHANNELS} filters"


def lift_onednn_cap(model: "ModelConfig") -> str:
    """Raise ONEDNN_MAX_CPU_ISA to what onednn_isa allows, in this process, if that can still take effect.

    oneDNN reads the variable once, at its first kernel, so this only acts before TensorFlow is imported,
    and never over a value the user set (one that set_tensorflow_env or this did not set, here or in a
    parent process). Returns the line to show ('' when nothing was decided here)."""
    if os.environ.get(ONEDNN_ISA) != os.environ.get(ONEDNN_ISA_OURS) or "tensorflow" in sys.modules:
        return ""
    isa, why = onednn_isa(model)
    os.environ[ONEDNN_ISA] = os.environ[ONEDNN_ISA_OURS] = isa
    return f"oneDNN kernels up to {isa}: {why}"


# Components log progress a person should see during `imgpipe run` (e.g. one line per epoch) here;
# the CLI shows this logger's records on the console unless --quiet (pipeline/local/progress.py).
PROGRESS_LOGGER = "imgpipe.progress"
