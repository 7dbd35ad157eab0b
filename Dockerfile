# The image every step of the compiled Kubeflow / Vertex AI pipeline runs in.
# Build, push and compile against it: see docs/kubeflow.md, "Build and push the image".
#   docker build -t REGISTRY/imgpipe:TAG . && docker push REGISTRY/imgpipe:TAG
#   imgpipe compile --target kfp --image REGISTRY/imgpipe:TAG --pipeline-root ...
# The compiled spec runs `python -m pipeline.kubeflow.entrypoint` (pipeline/kubeflow/compiler.py),
# and names /opt/imgpipe/setup.py for Beam workers (e.g. Dataflow) and the curated schemas.
# DL3013: versions come from constraints.txt (-c), the same frozen set as the tests.
# hadolint global ignore=DL3013
FROM tensorflow/tfx:1.16.0

# TF_USE_LEGACY_KERAS: the whole TFX 1.16 stack is Keras 2 (tf_keras).
# ONEDNN_MAX_CPU_ISA: oneDNN's AVX-512 kernels crash in some convolutions (schemas/runtime.py). For networks
#   they are safe for, the compiled spec sets AVX512_CORE in the Trainer's and Tuner's containers
#   (docs/performance.md, "oneDNN on AVX-512: which networks are safe").
# TF_ENABLE_ONEDNN_OPTS: oneDNN's kernels on CPUs without AVX-512 too, where TensorFlow would run Eigen's.
ENV TF_USE_LEGACY_KERAS=1 \
    ONEDNN_MAX_CPU_ISA=AVX2 \
    TF_ENABLE_ONEDNN_OPTS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Where pipeline/kubeflow/compiler.py (IMAGE_SOURCE_DIR) expects this repository.
WORKDIR /opt/imgpipe
COPY requirements.txt constraints.txt setup.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY schemas ./schemas

# No system packages are added (no compiler, no headers), so there is nothing to purge;
# pip's cache is off (PIP_NO_CACHE_DIR) and build leftovers are removed. The sources stay in /opt/imgpipe, owned by the runtime user: Beam's --setup_file
# builds an sdist there when a remote runner stages our package.
RUN python -m pip install -r requirements.txt -c constraints.txt \
    && python -m pip install --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info \
    && python -c "import pipeline.kubeflow.entrypoint, pipeline.kubeflow.compiler" \
    && useradd --uid 10001 --gid 0 --create-home --shell /usr/sbin/nologin imgpipe \
    && chown -R 10001:0 /opt/imgpipe

USER 10001
