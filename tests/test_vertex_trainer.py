"""`kubeflow.trainer=vertex` (docs/scaling.md#distributed-training): the compiled Vertex spec's Trainer is TFX's
Vertex AI Trainer extension with the configured worker pools and the pipeline image, keeping its own
settings; combinations that cannot work are refused in one line naming the key.

Vertex AI itself is not reachable here: what is checked is the compiled spec (and that the extension
imports with the pinned set, which compiling needs)."""
import json

import pytest

from pipeline.kubeflow.compiler import CompileError, compile_pipeline
from pipeline.kubeflow.spec import load_pipeline_spec
from pipeline.kubeflow.spec_check import load_spec, validate_spec
from schemas.config import build_config
from tests.fixtures import KFP_DATA, KFP_IMAGE, KFP_ROOT, KFP_SERVING

VERTEX = ["kubeflow.trainer=vertex", "kubeflow.trainer_replicas=3", "kubeflow.vertex_project=my-proj",
          "kubeflow.vertex_region=europe-west4", "kubeflow.trainer_machine_type=n1-standard-16",
          "kubeflow.trainer_gpus=2", "kubeflow.trainer_gpu_type=NVIDIA_TESLA_T4", "train.epochs=7"]


def compile_with(overrides, path, target="vertex"):
    cfg = build_config("", overrides + ["data.schema_path=schemas/demo/schema.pbtxt"])
    return compile_pipeline(cfg, target, KFP_IMAGE, "gs://bucket/root" if target == "vertex" else KFP_ROOT,
                            str(path), data_root=KFP_DATA, serving_dir=KFP_SERVING)


def test_the_vertex_trainer_is_compiled_with_its_worker_pools_and_keeps_the_trainers_settings(tmp_path):
    path = compile_with(VERTEX, tmp_path / "vertex.json")
    assert validate_spec(load_spec(path)) == []
    spec = load_pipeline_spec(path)
    container = spec["deploymentSpec"]["executors"]["Trainer_executor"]["container"]
    assert container["args"][:2] == ["--executor_class_path",
                                     "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"]
    assert "resources" not in container  # no pod sizes: the replicas' machines are Vertex's
    config = json.loads(spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["custom_config"]
                        ["runtimeValue"]["constant"])
    machine = {"machine_type": "n1-standard-16", "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2}
    assert config["ai_platform_enable_vertex"] is True and config["ai_platform_vertex_region"] == "europe-west4"
    assert config["ai_platform_training_args"] == {"project": "my-proj", "worker_pool_specs": [
        {"machine_spec": machine, "container_spec": {"image_uri": KFP_IMAGE}, "replica_count": 1},
        {"machine_spec": machine, "container_spec": {"image_uri": KFP_IMAGE}, "replica_count": 2}]}
    assert json.loads(config["settings"])["train"]["epochs"] == 7  # run_fn's own settings travel unchanged
    for other in ("Evaluator_executor", "Pusher_executor"):
        assert "google_cloud_ai_platform" not in json.dumps(spec["deploymentSpec"]["executors"][other])


@pytest.mark.parametrize("overrides, target, message", [
    (VERTEX, "kfp", "kubeflow.trainer=vertex cannot compile for --target kfp: TFX's Vertex Trainer extension"),
    ([o for o in VERTEX if "vertex_project" not in o], "vertex", "kubeflow.trainer=vertex needs kubeflow.vertex_project"),
    ([o for o in VERTEX if "vertex_region" not in o], "vertex", "kubeflow.trainer=vertex needs kubeflow.vertex_region"),
    (VERTEX + ["kubeflow.trainer_cpu=8"], "vertex", "kubeflow.trainer_cpu and kubeflow.trainer_memory_gb size a "
     "Trainer pod; with kubeflow.trainer=vertex choose kubeflow.trainer_machine_type"),
    (["kubeflow.trainer_replicas=2"], "kfp", "kubeflow.trainer_replicas=2 needs kubeflow.trainer=vertex"),
])
def test_a_trainer_combination_that_cannot_work_is_refused_in_one_line(overrides, target, message, tmp_path):
    suffix = ".json" if target == "vertex" else ".yaml"
    with pytest.raises(CompileError, match=message) as e:
        compile_with(overrides, tmp_path / f"x{suffix}", target)
    assert "\n" not in str(e.value)


def test_trainer_values_are_checked_by_the_config():
    from schemas.config import ConfigError
    with pytest.raises(ConfigError, match="kubeflow.trainer"):
        build_config("", ["kubeflow.trainer=tfjob"])
    with pytest.raises(ConfigError, match="kubeflow.trainer_replicas"):
        build_config("", ["kubeflow.trainer_replicas=0"])
