"""The run sections: `run` (local runs: name, Beam arguments, caching) and `kubeflow` (resources, schedules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from schemas.config.base import check


@dataclass
class RunConfig:
    pipeline_name: str = "imgpipe"
    beam_args: List[str] = field(default_factory=lambda: [
        "--direct_running_mode=in_memory", "--direct_num_workers=1"])
    # Local runs (`imgpipe run`) reuse a component's earlier outputs when its inputs and settings are
    # unchanged; what reads state outside the pipeline (the served model) always runs (docs/performance.md#caching).
    enable_cache: bool = True
    # `imgpipe run` suggests leaving the in-memory DirectRunner from this many image files on
    # (docs/scaling.md#when-in-memory-stops-being-sensible); 0: never.
    large_data_images: int = 50_000

    def validate(self) -> None:
        ok = bool(self.pipeline_name) and all(c.isalnum() or c in "-_" for c in self.pipeline_name)
        check(ok, "run.pipeline_name", self.pipeline_name, "letters, digits, '-' or '_'")
        check(self.large_data_images >= 0, "run.large_data_images", self.large_data_images,
               "an integer >= 0 (0: never suggest another runner)")


@dataclass
class KubeflowConfig:
    """Resources the Trainer asks for on Kubeflow / Vertex AI (0 or empty: the cluster's default),
    and how a KFP schedule (`imgpipe schedule`) behaves."""
    trainer_cpu: float = 0.0        # vCPU limit
    trainer_memory_gb: float = 0.0  # memory limit in GB
    trainer_gpus: int = 0           # accelerator count; needs trainer_gpu_type
    trainer_gpu_type: str = ""      # KFP: a resource name, e.g. nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4
    # 1: a scheduled run never starts while the previous one still runs (both would push to one serving dir)
    schedule_max_concurrency: int = 1
    # False: after a pause or an outage only the latest missed run starts, not one per missed interval
    schedule_catchup: bool = False

    def validate(self) -> None:
        check(self.trainer_cpu >= 0, "kubeflow.trainer_cpu", self.trainer_cpu, "a number >= 0")
        check(self.trainer_memory_gb >= 0, "kubeflow.trainer_memory_gb", self.trainer_memory_gb,
               "a number >= 0")
        check(self.trainer_gpus >= 0, "kubeflow.trainer_gpus", self.trainer_gpus, "an integer >= 0")
        check(not self.trainer_gpus or bool(self.trainer_gpu_type), "kubeflow.trainer_gpu_type",
               self.trainer_gpu_type, "an accelerator type when kubeflow.trainer_gpus > 0 "
               "(KFP: nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4)")
        check(1 <= self.schedule_max_concurrency <= 10, "kubeflow.schedule_max_concurrency",
               self.schedule_max_concurrency, "an integer from 1 to 10 (KFP's limit); 1 keeps runs "
               "from writing the same serving dir at once")



def host_port(value: str):
    """('host', port) of 'host:port' (an endpoint of a Beam job server or worker pool), else None."""
    host, _, port = value.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None
