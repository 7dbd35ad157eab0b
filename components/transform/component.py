"""Transform: TFX's own component, with the executor that resolves data.image_size=auto (executor.py)."""
import dataclasses

from tfx import v1 as tfx
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

from components.transform.executor import Executor
from components.transform.spec import NODE_ID, PREPROCESSING_FN, TransformSettings
from schemas.config import DataConfig


class ImageTransform(tfx.components.Transform):
    """Same spec, inputs and outputs as Transform; only the executor differs (see executor.py)."""
    EXECUTOR_SPEC = BeamExecutorSpec(Executor)


def create_transform(data: DataConfig, backbone: str, examples, schema) -> ImageTransform:
    """Decode, force 3 channels, scale to [0, 1], resize: the graph training and both serving signatures run.

    `backbone` (model.backbone) raises data.image_size=auto's floor to what that network needs. Not materialized (decoded float images are ~50x the encoded files; the Trainer applies the graph in
    its tf.data pipeline instead) and without statistics (meaningless on pixels, and slow).
    """
    return ImageTransform(
        examples=examples, schema=schema, preprocessing_fn=PREPROCESSING_FN,
        custom_config=dataclasses.asdict(TransformSettings.from_config(data, backbone)),
        materialize=False, disable_statistics=True).with_id(NODE_ID)
