"""Pipeline definition, runners, the `imgpipe` CLI and the Kubeflow tooling (`pipeline.kubeflow`)."""
from schemas.runtime import cap_onednn_isa, use_keras2

use_keras2()
cap_onednn_isa()
