"""The pipeline's TFX components and their user code, one folder or module per component."""
from schemas.runtime import cap_onednn_isa, use_keras2

use_keras2()
cap_onednn_isa()
