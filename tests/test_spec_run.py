"""run-spec on the real compiled spec: will it run on Kubeflow?

The spec compiled once per session (tests/conftest.py: tiny colour images, 20x20, a small CNN) is
run by `run-spec`, each task a subprocess running its own container command. As open-source KFP v2
would run it (`minio://` URIs mirrored locally, untyped upstream artifacts, no driver hook), every
task runs and the run ends with a blessed, infra-checked, pushed model. As Vertex AI's launcher would
run it, the tasks up to the first one that reads an upstream artifact run: what differs between the
launchers (the driver hook, typed artifacts) is exercised there, and the executors after it are the
same code the open-source run just ran (a whole second run would double the suite's longest module).
The stock TFX entrypoint fails the open-source imitation in ways our entrypoint repairs.
"""
import html
import json
import os
import shutil

import pytest
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from components.pusher.publish import served_versions
from pipeline.cli import main
from pipeline.kubeflow import launcher, spec_check, spec_run
from pipeline.history.report.component import REPORT_FILE
from pipeline.history.report.render import SECTIONS
from tests.test_judged_batches import push


def run(compiled_spec, **options):
    spec = spec_check.load_spec(compiled_spec["kfp"])
    return spec_run.run_spec(spec, spec_run.RunOptions(workdir=compiled_spec["work"], **options))


@pytest.fixture(scope="module")
def oss_run(compiled_spec):
    return run(compiled_spec, oss=True)


@pytest.fixture(scope="module")
def nothing_new_run(compiled_spec, oss_run):
    """The same spec again on the same data root: the served model was trained on its newest span."""
    return run(compiled_spec, oss=True)


@pytest.fixture(scope="module")
def vertex_like_run(compiled_spec, nothing_new_run):
    """A new batch arrives (round-3, a copy of round-2's images), then a Vertex-like run reads it."""
    shutil.copytree(os.path.join(compiled_spec["data"], "round-2"), os.path.join(compiled_spec["data"], "round-3"))
    return run(compiled_spec, until="StatisticsGen")


@pytest.fixture(scope="module")
def judged_batch_run(compiled_spec, vertex_like_run, tmp_path_factory):
    """round-3, which the Vertex-like run's NewDataCheck recorded as being judged, is rejected (the real Pusher
    executor given a not-blessed verdict records it); then a scheduled run checks again, up to NewDataCheck."""
    served = served_versions(os.path.join(compiled_spec["serving"], "image_classifier"))
    push(os.path.join(compiled_spec["serving"], "image_classifier"), tmp_path_factory.mktemp("rejected"), blessed=0)
    return run(compiled_spec, oss=True, until="NewDataCheck"), served


def pushed_model(result):
    """The Pusher's PushedModel as the launcher recorded it: (pushed?, destination)."""
    (artifact,) = result.outputs["Pusher"]["pushed_model"]
    metadata = dict(artifact.metadata)
    return metadata.get("pushed") == 1, metadata.get("pushed_destination", "")


def test_run_spec_as_vertex_runs_the_driver_hook_and_hands_on_typed_artifacts(vertex_like_run, compiled_spec):
    assert vertex_like_run.failed is None
    spec = spec_check.load_spec(compiled_spec["kfp"])
    order = spec_check.topological_order(spec.spec.root.dag.tasks)
    assert [t.name for t in vertex_like_run.tasks] == order[:order.index("StatisticsGen") + 1]
    tasks = os.path.join(vertex_like_run.run_dir, "tasks")
    with open(os.path.join(tasks, "ImageExampleGen", "driver_output.json")) as f:
        driver_output = json.load(f)["parameterValues"]  # the driver hook ran, and told the executor:
    # the compiled spec carries the span pattern and TFX's driver resolves the newest batch folder
    assert driver_output["span"] == 3 and driver_output["input_fingerprint"].startswith("split:images,")
    assert "round-3/*" in driver_output["input_config"]
    with open(os.path.join(tasks, "StatisticsGen", "executor_input.json")) as f:
        (examples,) = json.load(f)["inputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["type"]["instanceSchema"].startswith("title: tfx.Examples")  # typed by the launcher
    assert not examples["uri"].startswith("minio://")
    (statistics,) = vertex_like_run.outputs["StatisticsGen"]["statistics"]
    assert os.path.isdir(os.path.join(statistics.uri, "Split-train"))
    (baseline,) = vertex_like_run.outputs["ServedModelBaseline"]["baseline"]
    assert dict(baseline.metadata)["baseline_found"] == 1  # the open-source run's pushed model is served


def test_run_spec_as_open_source_kfp_runs_our_entrypoint_to_a_pushed_model(oss_run, compiled_spec):
    assert oss_run.failed is None
    spec = spec_check.load_spec(compiled_spec["kfp"])
    assert [t.name for t in oss_run.tasks] == spec_check.topological_order(spec.spec.root.dag.tasks)
    (examples,) = oss_run.outputs["ImageExampleGen"]["examples"]
    assert examples.uri.startswith("minio://mlpipeline/v2/artifacts/")  # mapped back for the launcher
    assert not os.path.exists(os.path.join(oss_run.run_dir, "tasks", "ImageExampleGen", "driver_output.json"))
    # no driver on open-source KFP: our executor resolved the newest span and recorded it (TFX's custom
    # property `span`, which the launcher's metadata calls `custom:span`: Examples also has a `span` property)
    metadata = dict(examples.metadata)
    assert metadata["custom:span"] == 2 and metadata["spans"] == "[2]" and metadata["span_folders"] == '["round-2"]'
    mirror = os.path.join(compiled_spec["work"], "minio", examples.uri[len("minio://"):])
    assert os.path.isdir(os.path.join(mirror, "Split-train"))
    (baseline,) = oss_run.outputs["ServedModelBaseline"]["baseline"]
    assert dict(baseline.metadata)["baseline_found"] == 0  # the first run: nothing served yet
    (blessing,) = oss_run.outputs["Evaluator"]["blessing"]
    assert dict(blessing.metadata)["blessed"] == 1
    pushed, destination = pushed_model(oss_run)
    assert pushed and destination.startswith(os.path.join(compiled_spec["serving"], "image_classifier"))
    assert os.path.isfile(os.path.join(destination, "saved_model.pb"))
    assert_infra_checked_and_warm(oss_run, destination)
    # the on-device models, pushed beside the SavedModel with its version number (docs/serving.md)
    (on_device,) = oss_run.outputs["OnDeviceModel"]["on_device"]
    assert dict(on_device.metadata)["pushed"] == 1 and dict(on_device.metadata)["reason"] == ""
    tflite = os.path.join(compiled_spec["serving"], "image_classifier-tflite", os.path.basename(destination))
    assert sorted(os.listdir(tflite)) == ["assets.extra", "labels.txt", "model.tflite", "model_int8.tflite",
                                          "preprocessing.json"]


def assert_infra_checked_and_warm(result, destination: str) -> None:
    """The InfraCheck task blessed the candidate, and the pushed version carries its warmup requests."""
    (infra,) = result.outputs["InfraCheck"]["blessing"]
    assert dict(infra.metadata)["blessed"] == 1 and dict(infra.metadata)["reason"] == ""
    assert os.path.isfile(os.path.join(destination, "assets.extra", "tf_serving_warmup_requests"))
    with open(os.path.join(destination, "assets.extra", "model_card.json"), encoding="utf-8") as f:
        card = json.load(f)  # the ModelCard task's card, pushed under the version's manifest
    assert card["model"]["classes"] == ["blue", "green", "red"] and card["evaluation"]["gate"]["blessed"] is True


def report_page(result, compiled_spec) -> str:
    """The report.html the RunReport task wrote into its artifact (the MinIO mirror under --oss)."""
    (artifact,) = result.outputs["RunReport"]["report"]
    uri = artifact.uri
    local = os.path.join(compiled_spec["work"], "minio", uri[len("minio://"):]) if uri.startswith("minio://") else uri
    with open(os.path.join(local, REPORT_FILE), encoding="utf-8") as f:
        return f.read()


def test_a_scheduled_run_with_nothing_new_skips_every_task_after_the_check(nothing_new_run, oss_run, compiled_spec):
    """As the KFP driver does: NewDataCheck runs, its answer is 0, every other task's trigger condition is false."""
    assert nothing_new_run.failed is None
    first, *rest = nothing_new_run.tasks
    assert first.name == "NewDataCheck" and first.exit_code == 0 and not first.skipped
    assert [t.name for t in rest] == [t.name for t in oss_run.tasks if t.name != "NewDataCheck"]
    condition = "trigger condition false: (inputs.artifacts['_NewDataCheck.report'].artifacts[0].metadata['new_data']"
    # the tasks fed by NewDataCheck alone are skipped by their condition; those needing a skipped task's outputs too
    by_condition = sorted(t.name for t in rest if t.skipped.startswith(condition))
    assert by_condition == ["ImageExampleGen", "ServedModelBaseline"], by_condition
    assert all(t.skipped.startswith(condition) or t.skipped.startswith("upstream ") for t in rest), rest
    (report,) = nothing_new_run.outputs["NewDataCheck"]["report"]
    pushed_version = os.path.basename(pushed_model(oss_run)[1])
    metadata = dict(report.metadata)  # TFX's entrypoint adds tfx_version
    assert {k: metadata.get(k) for k in ("new_data", "message")} == {
        "new_data": 0, "message": f"No new data since span 2, served by version {pushed_version}"}
    assert "Pusher" not in nothing_new_run.outputs
    model_dir = os.path.dirname(pushed_model(oss_run)[1])
    assert served_versions(model_dir) == [int(pushed_version)]  # nothing pushed: the one version is the first run's


def test_a_rejected_batch_is_not_retrained_by_the_next_scheduled_run(judged_batch_run):
    """Issue 21: NewDataCheck on Kubeflow reads the verdict the Pusher recorded, and says so."""
    result, served = judged_batch_run
    assert result.failed is None and [t.name for t in result.tasks] == ["NewDataCheck"]
    (report,) = result.outputs["NewDataCheck"]["report"]
    metadata = dict(report.metadata)
    assert metadata["new_data"] == 0
    message = metadata["message"]
    assert message.startswith("No new data since span 3 (judged "), message
    assert message.endswith(f": not blessed; served: version {served[-1]})"), message


def test_the_runreport_task_writes_the_report_on_open_source_kfp(oss_run, compiled_spec):
    """Open-source KFP passes the blessing without its properties: the report reads the marker files."""
    page = report_page(oss_run, compiled_spec)
    assert all(f'<section id="{key}">' in page for key, _ in SECTIONS)
    assert '<p class="verdict ok">Blessed</p>' in page and "Gate: candidate " in page
    assert "passed: fresh-process load" in page and 'class="missing unavailable"' not in page


def test_the_runreport_digest_is_one_markdown_file_at_its_uri_where_the_kfp_ui_reads_it(oss_run, compiled_spec):
    """What the KFP v2 UI renders inline (docs/report.md): an output typed `system.Markdown` by the launcher,
    its URI one file. Its verdict, gate sentence and classes are the report's."""
    with open(os.path.join(oss_run.run_dir, "tasks", "RunReport", "executor_input.json")) as f:
        (declared,) = json.load(f)["outputs"]["artifacts"]["digest"]["artifacts"]
    assert declared["type"]["instanceSchema"].startswith("title: system.Markdown\n")  # the MLMD type KFP records
    (digest,) = oss_run.outputs["RunReport"]["digest"]
    assert digest.uri == declared["uri"] and digest.uri.startswith("minio://mlpipeline/v2/artifacts/")
    assert digest.uri.endswith("/RunReport/digest")
    local = os.path.join(compiled_spec["work"], "minio", digest.uri[len("minio://"):])
    assert os.path.isfile(local)  # the file the launcher uploads to the URI, not a folder
    with open(local, encoding="utf-8") as f:
        text = f.read()
    page = report_page(oss_run, compiled_spec)
    sentence = page[page.index("<p>Gate: ") + len("<p>Gate: "):page.index("</p>", page.index("<p>Gate: "))]
    assert text.startswith("# Blessed\n") and f"**Gate:** {html.unescape(sentence)}" in text
    assert all(f"| {name} | " in text for name in ("blue", "green", "red"))
    (report,) = oss_run.outputs["RunReport"]["report"]
    assert f"(`{report.uri}/{REPORT_FILE}`)" in text and "](/pipeline/artifacts/minio/mlpipeline/v2/artifacts/" in text


def test_the_stock_tfx_entrypoint_cannot_import_our_artifact_types(compiled_spec, oss_run, capsys):
    """TFX's entrypoint imports a custom type's title (`imgpipe.NewDataReport`) as a class path: no such
    module. Ours finds the class by TYPE_NAME. (Its `minio://` URI mapping, the other repair, is tested
    with the real executor in tests/test_kubeflow_entrypoint.py: the stock one now fails before reaching it.)"""
    code = main(["run-spec", compiled_spec["kfp"], "--workdir", compiled_spec["work"], "--oss",
                 "--entrypoint", "stock"])
    out = capsys.readouterr().out
    assert code == 1
    assert "NewDataCheck: FAILED (exit 1)" in out and out.strip().endswith("Failed at task NewDataCheck")
    assert "ImportError: Could not import imgpipe.NewDataReport" in out


def test_the_stock_tfx_entrypoint_cannot_read_untyped_upstream_artifacts(compiled_spec, oss_run):
    """Rerun the first task that consumes an upstream artifact, on the open-source run's outputs."""
    result = run(compiled_spec, oss=True, entrypoint="stock", only=["StatisticsGen"],
                 run_id=os.path.basename(oss_run.run_dir))
    assert [t.name for t in result.tasks] == ["StatisticsGen"]
    assert result.failed.name == "StatisticsGen"
    assert "_retrieve_class_path" in result.failed.stderr_tail
    assert "UnboundLocalError: local variable 'title' referenced before assignment" in result.failed.stderr_tail


def test_run_spec_refuses_unknown_parameters_before_running_anything(compiled_spec, capsys):
    assert main(["run-spec", compiled_spec["kfp"], "--workdir", compiled_spec["work"], "--param", "data_rot=/x"]) == 2
    err = capsys.readouterr().err
    assert "--param data_rot: not a parameter of this pipeline; it has: data_root, train_args" in err


def test_until_names_a_task_of_the_spec_and_does_not_mix_with_only(compiled_spec, capsys):
    base = ["run-spec", compiled_spec["kfp"], "--workdir", compiled_spec["work"]]
    assert main(base + ["--until", "Trainr"]) == 2
    assert "--until Trainr: no such task; tasks: NewDataCheck, ImageExampleGen, " in capsys.readouterr().err
    assert main(base + ["--until", "Trainer", "--only", "Trainer"]) == 2
    assert "--until and --only do not go together" in capsys.readouterr().err


def test_executor_inputs_are_what_a_launcher_builds(oss_run):
    """Recorded per task: typed parameters, untyped minio:// upstream artifacts, typed outputs."""
    with open(os.path.join(oss_run.run_dir, "tasks", "Trainer", "executor_input.json")) as f:
        executor_input = json.load(f)
    inputs, outputs = executor_input["inputs"], executor_input["outputs"]
    assert json.loads(inputs["parameterValues"]["train_args"]) == {"num_steps": 0, "splits": ["train"]}
    examples = inputs["artifacts"]["examples"]["artifacts"][0]
    assert examples["uri"].startswith("minio://") and "type" not in examples
    assert outputs["artifacts"]["model"]["artifacts"][0]["type"]["instanceSchema"].startswith("title: tfx.Model")
    assert outputs["outputFile"] == os.path.join(oss_run.run_dir, "tasks", "Trainer", "executor_output.json")
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "validation", "test"]


def test_placeholders_are_filled_as_the_launcher_fills_them(tmp_path):
    executor_input = pb.ExecutorInput()
    executor_input.inputs.parameter_values["steps"].number_value = 20
    executor_input.inputs.parameter_values["root"].string_value = "/data"
    executor_input.inputs.artifacts["examples"].artifacts.add(uri="minio://mlpipeline/a/examples")
    executor_input.outputs.parameters["score"].output_file = "/tmp/score"
    run = launcher.RunState(None, launcher.RunOptions(workdir=str(tmp_path), oss=True), "r", "", {}, {}, {})
    fill = lambda arg: launcher.resolve_placeholders(arg, executor_input, run)  # noqa: E731
    assert json.loads(fill("{{$}}"))["inputs"]["parameterValues"] == {"steps": 20, "root": "/data"}
    assert fill("--steps={{$.inputs.parameters['steps']}}") == "--steps=20"
    assert fill("{{$.inputs.parameters['root']}}") == "/data"
    assert fill("{{$.inputs.artifacts['examples'].uri}}") == "minio://mlpipeline/a/examples"
    assert fill("{{$.inputs.artifacts['examples'].path}}") == str(tmp_path / "minio/mlpipeline/a/examples")
    assert fill("{{$.outputs.parameters['score'].output_file}}") == "/tmp/score"
    with pytest.raises(spec_check.SpecError, match=r"does not know the placeholder \{\{\$.pipeline_job_name\}\}"):
        fill("{{$.pipeline_job_name}}")
