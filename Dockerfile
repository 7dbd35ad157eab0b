# Container image for running the pipeline's components on Kubeflow Pipelines / Vertex AI.
# Minimal for now: the Kubeflow issue adds the entrypoint and the build/push instructions.
# hadolint global ignore=DL3013
FROM tensorflow/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/imgpipe
COPY requirements.txt constraints.txt setup.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY schemas ./schemas
RUN python -m pip install -r requirements.txt -c constraints.txt \
    && python -m pip install --no-deps . \
    && python -c "import components, pipeline.cli"

RUN useradd --create-home --uid 1000 imgpipe
USER imgpipe
