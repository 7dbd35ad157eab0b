"""The pipeline's TFX components and their user code, one folder or module per component."""
from schemas.runtime import set_tensorflow_env

set_tensorflow_env()
