"""Pipeline definition, runners, the `imgpipe` CLI and the Kubeflow tooling (`pipeline.kubeflow`)."""
from schemas.runtime import use_keras2

use_keras2()
