"""ModelCard: after the Evaluator, the candidate's model card (model_card.md, model_card.json) as an artifact
the Pusher copies into the version it pushes and RunReport shows.

Like RunReport it reads every step's outputs (through the report's and the summary's readers), so it sits
above the components, beside the report (pipeline/history/report/component.py says why).
"""
from tfx import v1 as tfx

from components.baseline import spec as baseline_spec
from components.evaluator import spec as evaluator_spec
from components.evaluator.component import judged_splits
from components.image_example_gen import spec as example_gen_spec
from components.image_validation import spec as image_validation_spec
from components.image_validation.component import ImageValidation
from components.pusher.model_card import ModelCardFiles
from components.trainer import spec as trainer_spec
from components.transform import spec as transform_spec
from pipeline.history.model_card.spec import NODE_ID
from pipeline.history.report.component import blessing_from_files, record_in_pipeline
from schemas.config import Config

_A = tfx.types.standard_artifacts


@tfx.dsl.components.component
def ModelCard(
    examples: tfx.dsl.components.InputArtifact[_A.Examples],
    validation: tfx.dsl.components.InputArtifact[ImageValidation],
    transform_graph: tfx.dsl.components.InputArtifact[_A.TransformGraph],
    model_run: tfx.dsl.components.InputArtifact[_A.ModelRun],
    baseline: tfx.dsl.components.InputArtifact[_A.Model],
    evaluation: tfx.dsl.components.InputArtifact[_A.ModelEvaluation],
    blessing: tfx.dsl.components.InputArtifact[_A.ModelBlessing],
    card: tfx.dsl.components.OutputArtifact[ModelCardFiles],
    config: tfx.dsl.components.Parameter[str],
    eval_splits: tfx.dsl.components.Parameter[str],
) -> None:
    """Writes the card of the candidate into its artifact (`config`: the run's config as JSON; `eval_splits`:
    the splits the Evaluator judged, comma-separated)."""
    from pipeline.history.model_card import write_card
    from pipeline.history.model_card.card import build_card
    blessing_from_files(blessing)
    cfg, record = record_in_pipeline(config, eval_splits, {
        example_gen_spec.NODE_ID: [examples], image_validation_spec.NODE_ID: [validation],
        transform_spec.NODE_ID: [transform_graph], trainer_spec.NODE_ID: [model_run],
        baseline_spec.NODE_ID: [baseline], evaluator_spec.NODE_ID: [evaluation, blessing]})
    write_card(build_card(record, cfg), card.uri)


def create_model_card(cfg: Config, example_gen, image_validator, transform, trainer, baseline,
                      evaluator) -> ModelCard:
    """The card of the model the Evaluator judged, whatever the verdict (the Pusher ships it only with a push)."""
    import json
    return ModelCard(
        examples=example_gen.outputs["examples"], validation=image_validator.outputs["report"],
        transform_graph=transform.outputs["transform_graph"], model_run=trainer.outputs["model_run"],
        baseline=baseline.outputs["baseline"], evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"], config=json.dumps(cfg.to_dict(), sort_keys=True),
        eval_splits=",".join(judged_splits(bool(cfg.data.golden_dir)))).with_id(NODE_ID)
