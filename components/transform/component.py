"""ImageTransform: TFX's Transform component with the executor that resolves data.image_size=auto."""
from tfx import v1 as tfx
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

from components.transform.executor import Executor


class ImageTransform(tfx.components.Transform):
    """Same spec, inputs and outputs as Transform; only the executor differs (see executor.py)."""
    EXECUTOR_SPEC = BeamExecutorSpec(Executor)
