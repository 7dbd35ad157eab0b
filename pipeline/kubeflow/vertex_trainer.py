"""`kubeflow.trainer=vertex`: the compiled Trainer starts a Vertex AI training job (TFX's Vertex Trainer
extension, `tfx.extensions.google_cloud_ai_platform`) instead of training in its own pod.

The Trainer stays the one `create_pipeline()` builds (same inputs, `run_fn`, settings); only its executor
becomes the extension's, and its custom_config gains what that executor reads: Vertex on, the region, and
the CustomJob's worker pools: a chief and `trainer_replicas - 1` workers, each a `trainer_machine_type` with
`trainer_gpus` of `trainer_gpu_type`, running the pipeline image. Vertex AI sets TF_CONFIG on every replica,
from which `components/trainer/distribution.py` picks MultiWorkerMirroredStrategy.
"""
from __future__ import annotations

from typing import List

from schemas.config.running import KubeflowConfig


def worker_pool_specs(k: KubeflowConfig, image: str) -> List[dict]:
    """Vertex AI CustomJob worker pools: the chief, then the other replicas (none when trainer_replicas=1)."""
    machine = {"machine_type": k.trainer_machine_type}
    if k.trainer_gpus:
        machine.update(accelerator_type=k.trainer_gpu_type, accelerator_count=k.trainer_gpus)
    pool = {"machine_spec": machine, "container_spec": {"image_uri": image}}
    specs = [dict(pool, replica_count=1)]
    if k.trainer_replicas > 1:
        specs.append(dict(pool, replica_count=k.trainer_replicas - 1))
    return specs


def use_vertex_trainer(trainer, k: KubeflowConfig, image: str) -> None:
    """Turn the pipeline's Trainer into TFX's Vertex AI Trainer, keeping its own custom_config."""
    from tfx.dsl.components.base.executor_spec import ExecutorClassSpec
    from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex
    from tfx.utils import json_utils

    config = json_utils.loads(trainer.exec_properties["custom_config"])
    config.update({
        vertex.ENABLE_VERTEX_KEY: True,
        vertex.VERTEX_REGION_KEY: k.vertex_region,
        vertex.TRAINING_ARGS_KEY: {"project": k.vertex_project, "worker_pool_specs": worker_pool_specs(k, image)},
    })
    trainer.exec_properties["custom_config"] = json_utils.dumps(config)
    trainer.executor_spec = ExecutorClassSpec(vertex.GenericExecutor)
