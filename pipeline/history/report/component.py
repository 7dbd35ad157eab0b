"""RunReport: the last node of the DAG writes the run's HTML report as an artifact.

So a Kubeflow run has its report in its pipeline root like every other output
(`<artifact uri>/report.html`). Inside a component there is no ML Metadata to
read, so the facts come from the input artifacts themselves, wired to the
components that made them; what only MLMD knows (component times) the report
marks as unavailable. A run stopped before the end never reaches this node:
`imgpipe run` writes that run's report from MLMD instead (pipeline/history/report/__init__.py).

It lives above the components it reads (pipeline layer), not among them.
"""

import json
from typing import Dict, List

from tfx import v1 as tfx

from components.image_validation.component import ImageValidation
from pipeline.history.run_record import NodeRun, RunRecord

REPORT_FILE = "report.html"
_A = tfx.types.standard_artifacts


class RunReportFile(tfx.dsl.Artifact):
    """The run's self-contained HTML report (report.html)."""
    TYPE_NAME = "imgpipe.RunReport"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


def record_from_artifacts(pipeline_name: str, outputs: Dict[str, List], properties: Dict[str, dict]) -> RunRecord:
    """A RunRecord of the nodes whose outputs are given ({node: [tfx Artifact]}); no times are known."""
    nodes = [NodeRun(node=node, execution_id=0, seconds=float("nan"), state="complete", started_ms=0,
                     properties=properties.get(node, {}), outputs=[a.mlmd_artifact for a in artifacts],
                     output_types=[a.type_name for a in artifacts])
             for node, artifacts in outputs.items()]
    return RunRecord(run_id="", pipeline_name=pipeline_name, nodes=nodes)


def _blessing_from_files(blessing) -> None:
    """Where an orchestrator passes the blessing without its custom properties (open-source KFP v2),
    recover the verdict from the BLESSED / NOT_BLESSED marker file the Evaluator writes."""
    import tensorflow as tf
    if not blessing.has_custom_property("blessed"):
        for name, value in (("BLESSED", 1), ("NOT_BLESSED", 0)):
            if tf.io.gfile.exists(f"{blessing.uri}/{name}"):
                blessing.set_int_custom_property("blessed", value)


@tfx.dsl.components.component
def RunReport(
    examples: tfx.dsl.components.InputArtifact[_A.Examples],
    validation: tfx.dsl.components.InputArtifact[ImageValidation],
    model: tfx.dsl.components.InputArtifact[_A.Model],
    model_run: tfx.dsl.components.InputArtifact[_A.ModelRun],
    baseline: tfx.dsl.components.InputArtifact[_A.Model],
    evaluation: tfx.dsl.components.InputArtifact[_A.ModelEvaluation],
    blessing: tfx.dsl.components.InputArtifact[_A.ModelBlessing],
    infra_blessing: tfx.dsl.components.InputArtifact[_A.InfraBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[_A.PushedModel],
    report: tfx.dsl.components.OutputArtifact[RunReportFile],
    config: tfx.dsl.components.Parameter[str],
    eval_split: tfx.dsl.components.Parameter[str],
) -> None:
    """Writes `report.html` into its artifact from the run's artifacts (`config`: the run's config as JSON)."""
    from pipeline.history.report import write_report_file
    from pipeline.history.report.collect import collect
    from schemas.config import from_dict
    cfg = from_dict(json.loads(config))
    _blessing_from_files(blessing)
    record = record_from_artifacts(cfg.run.pipeline_name, {
        "ImageExampleGen": [examples], "ImageDataValidator": [validation], "Trainer": [model, model_run],
        "ServedModelBaseline": [baseline], "Evaluator": [evaluation, blessing], "InfraCheck": [infra_blessing],
        "Pusher": [pushed_model]},
        {"Evaluator": {"example_splits": json.dumps([eval_split])}})
    write_report_file(collect(record, "", cfg), f"{report.uri}/{REPORT_FILE}")
