"""Which tf.distribute strategy the Trainer trains under.

- `TF_CONFIG` naming a cluster of two or more workers (chief included): one
  MultiWorkerMirroredStrategy across them (what Vertex AI / Kubeflow's training
  operators set up for multi-replica training);
- two or more local GPUs: MirroredStrategy across them;
- otherwise TensorFlow's default strategy (one device), which costs nothing.

The choice is a pure function of TF_CONFIG and the GPU count so it can be
tested without a cluster: building a multi-worker strategy waits for its peers.
"""
import json
import os
import tempfile
from typing import Optional

MULTI_WORKER, MIRRORED, DEFAULT = "multi_worker", "mirrored", "default"


def strategy_kind(tf_config: Optional[str], num_gpus: int) -> str:
    """MULTI_WORKER, MIRRORED or DEFAULT for this TF_CONFIG value and local GPU count."""
    if tf_config:
        try:
            cluster = json.loads(tf_config).get("cluster", {})
        except (ValueError, AttributeError):
            raise ValueError(f"TF_CONFIG is not a JSON object: {tf_config!r}") from None
        if len(cluster.get("chief", [])) + len(cluster.get("worker", [])) >= 2:
            return MULTI_WORKER
    return MIRRORED if num_gpus >= 2 else DEFAULT


def this_process_kind() -> str:
    """What `strategy_kind` picks for this process's environment (TF_CONFIG, the local GPUs)."""
    import tensorflow as tf

    return strategy_kind(os.environ.get("TF_CONFIG"), len(tf.config.list_physical_devices("GPU")))


def input_is_sharded() -> bool:
    """True under a multi-worker cluster, whose workers each read a shard of a split: a batch count taken
    from the whole split is then not a worker's (so the Trainer runs one batch per call there)."""
    return this_process_kind() == MULTI_WORKER


def make_strategy():
    """The strategy `strategy_kind` picks for this process's environment."""
    import tensorflow as tf

    kind = this_process_kind()
    if kind == MULTI_WORKER:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == MIRRORED:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    """True unless this is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker"
                                             and resolver.task_id == 0)


def export_dir(strategy, serving_model_dir: str) -> str:
    """Where this worker saves the model: every worker must save (the save runs collectives),
    but only the chief's copy is the Trainer's output; the others write to a scratch folder."""
    return serving_model_dir if is_chief(strategy) else tempfile.mkdtemp(prefix="imgpipe-worker-model-")
