"""ImageDataValidator: image-aware checks that gate training.

Runs after ExampleGen/StatisticsGen and before Transform. A Beam pipeline reads
every tf.Example once and extracts small per-image facts (size, mode, SHA-256,
dHash) into `facts-*.jsonl` in the output artifact; the checks then run in this
process over those facts, so memory grows with the number of images (about
750 bytes each, 1.3 million per GB), not with their pixels.

Outputs `image_validation.json` and `summary.txt`. Blocking findings raise
ImageValidationError after the report is written (kept in `<artifact>.stopped/`,
as TFX deletes a failed execution's outputs), so the run stops before training
and nothing is pushed; a passing run becomes the next run's reference.
"""
import apache_beam as beam
from absl import logging
import tensorflow_data_validation as tfdv
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.data_validation.gate import DataValidationError
from components.data_validation.spec import STATISTICS_FILE
from components.image_validation import reference as ref
from components.image_validation.extract import extract_facts, read_facts
from components.image_validation.report import blocking_message, write_report
from components.image_validation.spec import NODE_ID, STATUS_PROPERTY, WARNINGS_PROPERTY, ImageValidationSettings
from components.image_validation.validate import validate_images
from schemas import carrier, features
from schemas.config import Config


class ImageValidation(tfx.dsl.Artifact):
    """The image-aware validation report of one run (image_validation.json, summary.txt, facts)."""
    TYPE_NAME = "imgpipe.ImageValidation"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


class ImageValidationError(DataValidationError):
    """The images fail a blocking check; the message lists each and what to do."""


@tfx.dsl.components.component(use_beam=True)
def ImageDataValidator(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    report: tfx.dsl.components.OutputArtifact[ImageValidation],
    settings: tfx.dsl.components.Parameter[str],
    reference_dir: tfx.dsl.components.Parameter[str],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema] = None,
    beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None,
    run_token: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Checks classes, geometry, leakage and drift; raises ImageValidationError on blocking findings.

    `limits` is the JSON of the `validation` config section plus `data.min_images_per_class`;
    `schema` is given only when it is curated (its label_name domain is then the expected classes).
    `run_token` is unused: new on every cached run (pipeline/local/caching.py), it makes the validator always
    run, since it reads the previous validated run's reference, which lives outside its inputs.
    """
    ref.check_reachable(reference_dir)
    splits = artifact_utils.decode_split_names(examples.split_names)
    copied_from = extract_facts(beam_pipeline, examples.uri, splits, report.uri)
    if copied_from:
        logging.info("Image facts copied from %s (same example files): not extracted again", copied_from)
    previous = ref.read_reference(reference_dir)
    expected, source = ref.expected_classes(schema, previous, reference_dir)
    current_stats_path = f"{statistics.uri}/Split-{features.TRAIN_SPLIT}/{STATISTICS_FILE}"
    previous_stats_path = ref.reference_statistics_path(reference_dir) if previous else None
    result = validate_images(
        read_facts(report.uri), carrier.from_json(ImageValidationSettings, settings), expected, source,
        current_stats=tfdv.load_stats_binary(current_stats_path),
        previous_stats=tfdv.load_stats_binary(previous_stats_path) if previous_stats_path else None)
    report_path = write_report(report.uri, result)
    report.set_string_custom_property(STATUS_PROPERTY, result["status"])
    report.set_int_custom_property(WARNINGS_PROPERTY, len(result["warnings"]))
    if result["blocking"]:
        kept_at = report.uri.rstrip("/") + features.STOPPED_SUFFIX
        write_report(kept_at, result)
        raise ImageValidationError(blocking_message(result, kept_at))
    ref.write_reference(reference_dir, report_path, current_stats_path)


def create_image_data_validator(cfg: Config, examples, statistics, schema, pipeline_root: str, run_token: str = ""):
    """The validator wired to the config: its settings, the reference location, the schema if curated."""
    return ImageDataValidator(
        examples=examples,
        statistics=statistics,
        schema=schema if cfg.data.schema_path else None,
        settings=carrier.to_json(ImageValidationSettings.from_config(cfg)),
        reference_dir=cfg.validation.reference_dir
        or ref.default_reference_dir(pipeline_root, cfg.run.pipeline_name),
        run_token=run_token).with_id(NODE_ID)
