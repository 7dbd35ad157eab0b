"""Pipeline definition, runners, the `imgpipe` CLI and the Kubeflow tooling (`pipeline.kubeflow`)."""
from schemas.runtime import set_tensorflow_env

set_tensorflow_env()
