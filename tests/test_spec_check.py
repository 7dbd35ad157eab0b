"""validate-spec: is a compiled Kubeflow spec well formed? On the real compiled spec, a tampered copy,
a real TFX Resolver, and a file that is not a spec."""
import pytest
import yaml

from pipeline.cli import main


@pytest.mark.parametrize("target", ["kfp", "vertex"])
def test_the_compiled_spec_spec_validates_for_both_targets(compiled_spec, target, capsys):
    assert main(["validate-spec", compiled_spec[target]]) == 0
    assert capsys.readouterr().out.strip() == f"{compiled_spec[target]}: OK"


def write_tampered(compiled_spec, tmp_path, tamper) -> str:
    with open(compiled_spec["kfp"]) as f:
        spec = yaml.safe_load(f)
    tamper(spec)
    path = str(tmp_path / "tampered.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(spec, f)
    return path


def tamper_everything(spec):
    tasks = spec["root"]["dag"]["tasks"]
    tasks["Pusher"]["dependentTasks"].append("ModelValidator")
    tasks["ImageExampleGen"]["dependentTasks"] = ["Pusher"]
    tasks["Trainer"]["componentRef"]["name"] = "TrainerV2"
    tasks["Pusher"]["inputs"]["artifacts"]["model_blessing"]["taskOutputArtifact"]["outputArtifactKey"] = "blesing"
    executors = spec["deploymentSpec"]["executors"]
    executors["Transform_executor"]["container"]["image"] = ""
    executors["SchemaGen_executor"]["container"]["command"] = []


def test_validate_spec_reports_every_problem_of_a_tampered_spec(compiled_spec, tmp_path, capsys):
    path = write_tampered(compiled_spec, tmp_path, tamper_everything)
    assert main(["validate-spec", path]) == 1
    out = capsys.readouterr().out
    assert "task Pusher depends on task 'ModelValidator', which is not in the DAG" in out
    assert "task Trainer refers to component 'TrainerV2', which is not in components" in out
    assert "the DAG has a cycle:" in out and "ImageExampleGen" in out and "Pusher" in out
    assert ("task Pusher input 'model_blessing' reads output 'blesing' of task Evaluator, "
            "which has no such output") in out
    assert "executor Transform_executor has no container image" in out
    assert "executor SchemaGen_executor has no container command" in out
    assert out.strip().endswith("6 problem(s)")


def test_validate_spec_rejects_the_resolver_nodes_tfx_compiles(tmp_path, capsys):
    """A real TFX Resolver (the usual 'latest blessed model' one) compiled_spec by KubeflowV2DagRunner."""
    from tfx import v1 as tfx

    resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    pipeline = tfx.dsl.Pipeline(pipeline_name="resolver-demo", pipeline_root=str(tmp_path),
                                components=[resolver])
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image="imgpipe:test", use_pipeline_spec_2_1=True),
        output_dir=str(tmp_path), output_filename="resolver.yaml")
    runner.run(pipeline)
    assert main(["validate-spec", str(tmp_path / "resolver.yaml")]) == 1
    out = capsys.readouterr().out
    assert out.count("is a resolver node: open-source KFP v2 does not run resolvers") == 2  # model + blessing


def test_validate_spec_names_a_file_that_is_not_a_spec(tmp_path, capsys):
    path = tmp_path / "notes.yaml"
    path.write_text("just: [a, list]\n")
    assert main(["validate-spec", str(path)]) == 2
    assert "does not parse as a KFP PipelineSpec" in capsys.readouterr().err
