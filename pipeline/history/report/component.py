"""RunReport: the last node of the DAG writes the run's HTML report as an artifact.

So a Kubeflow run has its report in its pipeline root like every other output
(`<artifact uri>/report.html`). Inside a component there is no ML Metadata to
read, so the facts come from the input artifacts themselves, wired to the
components that made them; what only MLMD knows (component times) the report
marks as unavailable. A run stopped before the end never reaches this node:
`imgpipe run` writes that run's report from MLMD instead (pipeline/history/report/__init__.py).

It is the one step whose folder is not under components/: it renders the same run summary the CLI
prints (pipeline/history/summary.py), which reads every step's outputs, so it sits above them.
"""

import json
import os
from typing import Dict, List, Tuple

from tfx import v1 as tfx
from tfx.types.value_artifact import ValueArtifact

from components.baseline import spec as baseline_spec
from components.evaluator import spec as evaluator_spec
from components.evaluator.component import judged_splits
from components.image_example_gen import spec as example_gen_spec
from components.image_validation import spec as image_validation_spec
from components.image_validation.component import ImageValidation
from components.infra_check import spec as infra_check_spec
from components.pusher import spec as pusher_spec
from components.pusher.model_card import ModelCardFiles
from components.trainer import spec as trainer_spec
from components.transform import spec as transform_spec
from pipeline.history.model_card import spec as model_card_spec
from pipeline.history.report.spec import NODE_ID, REPORT_FILE, REPORT_TYPE
from pipeline.history.run_record import NodeRun, RunRecord
from schemas import features
from schemas.config import Config

_A = tfx.types.standard_artifacts


class RunReportFile(tfx.dsl.Artifact):
    """The run's self-contained HTML report (report.html)."""
    TYPE_NAME = REPORT_TYPE  # "imgpipe.RunReport": KFP v2 compile needs `<namespace>.<TypeName>` for custom types


class ReportDigest(ValueArtifact):
    """The report's Markdown digest, one file AT the artifact's URI, typed as the KFP v2 UI renders inline.

    The one type not named `imgpipe.*`: the KFP UI renders an artifact inline only when its ML Metadata type
    is `system.Markdown` (or `system.HTML`) and reads its URI as one file; TFX's compiler writes this
    TYPE_NAME as the schema title, which KFP's launcher records as that type (docs/report.md). A TFX
    ValueArtifact, so the local runner too gives it a file URI (`<folder>/value`) rather than a folder."""
    TYPE_NAME = "system.Markdown"

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        return serialized_value.decode("utf-8")


def record_in_pipeline(config: str, eval_splits: str, outputs: Dict[str, List]) -> Tuple[Config, RunRecord]:
    """The run's config (RunReport's and ModelCard's `config` parameter, JSON) and a RunRecord of the given
    artifacts, with the splits the Evaluator judged (`eval_splits`, comma-separated) on its node."""
    from schemas.config import from_dict
    cfg = from_dict(json.loads(config))
    return cfg, record_from_artifacts(cfg.run.pipeline_name, outputs, {
        evaluator_spec.NODE_ID: {evaluator_spec.EXAMPLE_SPLITS_PROPERTY: json.dumps(eval_splits.split(","))}})


def record_from_artifacts(pipeline_name: str, outputs: Dict[str, List], properties: Dict[str, dict]) -> RunRecord:
    """A RunRecord of the nodes whose outputs are given ({node: [tfx Artifact]}); no times are known."""
    nodes = [NodeRun(node=node, execution_id=0, seconds=float("nan"), state="complete", started_ms=0,
                     properties=properties.get(node, {}), outputs=[a.mlmd_artifact for a in artifacts],
                     output_types=[a.type_name for a in artifacts])
             for node, artifacts in outputs.items()]
    return RunRecord(run_id="", pipeline_name=pipeline_name, nodes=nodes)


def blessing_from_files(blessing) -> None:
    """Where an orchestrator passes the blessing without its custom properties (open-source KFP v2),
    recover the verdict from the BLESSED / NOT_BLESSED marker file the Evaluator writes."""
    import tensorflow as tf
    if not blessing.has_custom_property(features.BLESSED_PROPERTY):
        for name, value in (("BLESSED", 1), ("NOT_BLESSED", 0)):
            if tf.io.gfile.exists(f"{blessing.uri}/{name}"):
                blessing.set_int_custom_property(features.BLESSED_PROPERTY, value)


@tfx.dsl.components.component
def RunReport(
    examples: tfx.dsl.components.InputArtifact[_A.Examples],
    validation: tfx.dsl.components.InputArtifact[ImageValidation],
    transform_graph: tfx.dsl.components.InputArtifact[_A.TransformGraph],
    model: tfx.dsl.components.InputArtifact[_A.Model],
    model_run: tfx.dsl.components.InputArtifact[_A.ModelRun],
    baseline: tfx.dsl.components.InputArtifact[_A.Model],
    evaluation: tfx.dsl.components.InputArtifact[_A.ModelEvaluation],
    blessing: tfx.dsl.components.InputArtifact[_A.ModelBlessing],
    infra_blessing: tfx.dsl.components.InputArtifact[_A.InfraBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[_A.PushedModel],
    model_card: tfx.dsl.components.InputArtifact[ModelCardFiles],
    report: tfx.dsl.components.OutputArtifact[RunReportFile],
    digest: tfx.dsl.components.OutputArtifact[ReportDigest],
    config: tfx.dsl.components.Parameter[str],
    eval_splits: tfx.dsl.components.Parameter[str],
) -> None:
    """Writes `report.html` into its artifact from the run's artifacts, and the Markdown digest as the file at
    `digest`'s URI (`config`: the run's config as JSON; `eval_splits`: the splits the Evaluator judged,
    comma-separated)."""
    from pipeline.history.report import write_report_file
    from pipeline.history.report.collect import collect
    blessing_from_files(blessing)
    cfg, record = record_in_pipeline(config, eval_splits, {
        example_gen_spec.NODE_ID: [examples], image_validation_spec.NODE_ID: [validation],
        transform_spec.NODE_ID: [transform_graph],
        trainer_spec.NODE_ID: [model, model_run], baseline_spec.NODE_ID: [baseline],
        evaluator_spec.NODE_ID: [evaluation, blessing], model_card_spec.NODE_ID: [model_card],
        infra_check_spec.NODE_ID: [infra_blessing], pusher_spec.NODE_ID: [pushed_model]})
    facts = collect(record, "", cfg, report_uri=report.uri)
    write_report_file(facts, f"{report.uri}/{REPORT_FILE}")
    write_digest(facts, report.uri, model_card.uri, digest.uri)


def write_digest(facts: dict, report_uri: str, card_uri: str, digest_uri: str) -> None:
    """The digest as the one file at `digest_uri`, naming the report and the card by their object-store URIs
    (inside a Kubeflow task the paths it sees are the launcher's local mirrors of them)."""
    import tensorflow as tf
    from pipeline.history.report.digest import digest_markdown
    from pipeline.kubeflow.mirrors import to_remote
    text = digest_markdown(facts, to_remote(f"{report_uri}/{REPORT_FILE}"), to_remote(card_uri))
    tf.io.gfile.makedirs(os.path.dirname(digest_uri))
    with tf.io.gfile.GFile(digest_uri, "w") as f:
        f.write(text)


def create_run_report(cfg: Config, example_gen, image_validator, transform, trainer, baseline, evaluator,
                      model_card, infra_check, pusher) -> RunReport:
    """The last node: the whole run in one HTML page, whatever the verdict. `config` is the whole config
    (every section), so the page's Config section is what the run used."""
    return RunReport(
        examples=example_gen.outputs["examples"], validation=image_validator.outputs["report"],
        transform_graph=transform.outputs["transform_graph"], model=trainer.outputs["model"], model_run=trainer.outputs["model_run"],
        baseline=baseline.outputs["baseline"], evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"], infra_blessing=infra_check.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"], model_card=model_card.outputs["card"], config=json.dumps(cfg.to_dict(), sort_keys=True),
        eval_splits=",".join(judged_splits(bool(cfg.data.golden_dir)))).with_id(NODE_ID)
