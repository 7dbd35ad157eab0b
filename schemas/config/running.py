"""The run sections: `run` (local runs: name, Beam arguments, caching) and `kubeflow` (resources, schedules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from schemas.config.base import check

# kubeflow.beam_runner: where a compiled pipeline's Beam components run (docs/scaling.md#beam-on-kubeflow)
KFP_BEAM_RUNNERS = ("direct", "dataflow", "flink", "spark")
PORTABLE_BEAM_RUNNERS = ("flink", "spark")  # through a Beam job server (the portable Runner API)
# kubeflow.trainer: the Trainer in its own pod, or on Vertex AI Training (worker pools)
TRAINERS = ("pod", "vertex")


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
    where a compiled pipeline's Beam components and Trainer run, and how a KFP schedule behaves."""
    trainer_cpu: float = 0.0        # vCPU limit
    trainer_memory_gb: float = 0.0  # memory limit in GB
    trainer_gpus: int = 0           # accelerator count; needs trainer_gpu_type
    trainer_gpu_type: str = ""      # KFP: a resource name, e.g. nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4
    # 1: a scheduled run never starts while the previous one still runs (both would push to one serving dir)
    schedule_max_concurrency: int = 1
    # False: after a pause or an outage only the latest missed run starts, not one per missed interval
    schedule_catchup: bool = False
    # direct: Beam's DirectRunner inside each Beam component's pod (run.beam_args); dataflow; flink or spark
    # through a Beam job server (docs/scaling.md#beam-on-kubeflow)
    beam_runner: str = "direct"
    dataflow_project: str = ""        # GCP project the Dataflow jobs run in
    dataflow_region: str = ""         # e.g. europe-west4
    dataflow_temp_location: str = ""  # gs://bucket/tmp: Dataflow's staging and temp files
    dataflow_max_workers: int = 0     # autoscaling ceiling per job; 0: Dataflow's default
    beam_job_endpoint: str = ""       # flink/spark: the Beam job server, HOST:PORT as the pods reach it
    beam_worker_pool: str = ""        # flink/spark: an EXTERNAL worker pool HOST:PORT; empty: DOCKER, the pipeline image
    # pod: the Trainer trains in its own pod (trainer_cpu, trainer_memory_gb, trainer_gpus); vertex: it starts a
    # Vertex AI training job of trainer_replicas replicas (TFX's Vertex Trainer extension; --target vertex only)
    trainer: str = "pod"
    trainer_replicas: int = 1         # vertex: replicas, the chief included; > 1: MultiWorkerMirroredStrategy
    trainer_machine_type: str = "n1-standard-8"  # vertex: each replica's machine (trainer_gpus of trainer_gpu_type each)
    vertex_project: str = ""          # vertex: the GCP project of the training job
    vertex_region: str = ""           # vertex: e.g. europe-west4

    def beam_problem(self) -> str:
        """What the chosen Beam runner still lacks, in one line naming the key; '' when usable."""
        if self.beam_runner == "dataflow":
            for key in ("dataflow_project", "dataflow_region", "dataflow_temp_location"):
                if not getattr(self, key):
                    return f"kubeflow.beam_runner=dataflow needs kubeflow.{key}"
            if not self.dataflow_temp_location.startswith("gs://"):
                return (f"kubeflow.dataflow_temp_location {self.dataflow_temp_location!r}: Dataflow stages "
                        "through Cloud Storage, e.g. gs://bucket/tmp")
        if self.beam_runner in PORTABLE_BEAM_RUNNERS and not host_port(self.beam_job_endpoint):
            return (f"kubeflow.beam_runner={self.beam_runner} needs kubeflow.beam_job_endpoint (HOST:PORT of the "
                    f"Beam {self.beam_runner.title()} job server, as the pods reach it)")
        if self.beam_worker_pool and not host_port(self.beam_worker_pool):
            return f"kubeflow.beam_worker_pool {self.beam_worker_pool!r}: expected HOST:PORT"
        return ""

    def trainer_problem(self, target: str) -> str:
        """What rules out the chosen Trainer for this compile target, in one line naming the key; ''."""
        if self.trainer == "pod":
            return ("" if self.trainer_replicas == 1 else f"kubeflow.trainer_replicas={self.trainer_replicas} "
                    "needs kubeflow.trainer=vertex: a Trainer pod is one replica")
        if target != "vertex":
            return (f"kubeflow.trainer=vertex cannot compile for --target {target}: TFX's Vertex Trainer extension "
                    "starts a Vertex AI training job; use --target vertex, or kubeflow.trainer=pod")
        for key in ("vertex_project", "vertex_region", "trainer_machine_type"):
            if not getattr(self, key):
                return f"kubeflow.trainer=vertex needs kubeflow.{key}"
        if self.trainer_cpu or self.trainer_memory_gb:
            return ("kubeflow.trainer_cpu and kubeflow.trainer_memory_gb size a Trainer pod; with "
                    "kubeflow.trainer=vertex choose kubeflow.trainer_machine_type instead")
        return ""

    def validate(self) -> None:
        check(self.trainer_cpu >= 0, "kubeflow.trainer_cpu", self.trainer_cpu, "a number >= 0")
        check(self.trainer_memory_gb >= 0, "kubeflow.trainer_memory_gb", self.trainer_memory_gb,
               "a number >= 0")
        check(self.trainer_gpus >= 0, "kubeflow.trainer_gpus", self.trainer_gpus, "an integer >= 0")
        check(not self.trainer_gpus or bool(self.trainer_gpu_type), "kubeflow.trainer_gpu_type",
               self.trainer_gpu_type, "an accelerator type when kubeflow.trainer_gpus > 0 "
               "(KFP: nvidia.com/gpu; Vertex: e.g. NVIDIA_TESLA_T4)")
        check(self.beam_runner in KFP_BEAM_RUNNERS, "kubeflow.beam_runner", self.beam_runner,
               f"one of {', '.join(KFP_BEAM_RUNNERS)}")
        check(self.trainer in TRAINERS, "kubeflow.trainer", self.trainer, f"one of {', '.join(TRAINERS)}")
        check(self.trainer_replicas >= 1, "kubeflow.trainer_replicas", self.trainer_replicas,
               "an integer >= 1 (the chief included)")
        check(self.dataflow_max_workers >= 0, "kubeflow.dataflow_max_workers", self.dataflow_max_workers,
               "an integer >= 0 (0: Dataflow's default)")
        check(1 <= self.schedule_max_concurrency <= 10, "kubeflow.schedule_max_concurrency",
               self.schedule_max_concurrency, "an integer from 1 to 10 (KFP's limit); 1 keeps runs "
               "from writing the same serving dir at once")


def host_port(value: str):
    """('host', port) of 'host:port' (an endpoint of a Beam job server or worker pool), else None."""
    host, _, port = value.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None
