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
import dataclasses
import json
from typing import List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx import v1 as tfx
from tfx.types import artifact_utils

from schemas import features
from components.data_gate import DataValidationError
from components.image_validation import reference as ref
from components.image_validation.facts import ImageFacts, image_facts
from components.image_validation.report import summary_lines, write_report
from components.image_validation.validate import validate_images
from schemas.config import Config

FACTS_PREFIX = "facts"
STATUS_PROPERTY = "status"          # "passed" | "blocked"
WARNINGS_PROPERTY = "warnings"      # number of warnings
TRAIN_SPLIT = "train"
SCHEMA_FILE = "schema.pbtxt"        # what SchemaGen and ImportSchemaGen write in their artifact


class ImageValidation(tfx.dsl.Artifact):
    """The image-aware validation report of one run (image_validation.json, summary.txt, facts)."""
    TYPE_NAME = "imgpipe.ImageValidation"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


class ImageValidationError(DataValidationError):
    """The images fail a blocking check; the message lists each and what to do."""


def _facts_json(record: bytes, split: str) -> str:
    return json.dumps(image_facts(record, split).to_dict())


def extract_facts(pipeline: beam.Pipeline, examples_uri: str, splits: List[str], output_uri: str) -> None:
    """Beam: every split's tf.Examples -> one JSON line of ImageFacts per image."""
    with pipeline as p:
        per_split = [
            p | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
                f"{examples_uri}/Split-{split}/*", coder=beam.coders.BytesCoder())
              | f"Facts[{split}]" >> beam.Map(_facts_json, split)
            for split in splits]
        _ = (per_split | "Flatten" >> beam.Flatten()
             | "Write" >> beam.io.WriteToText(f"{output_uri}/{FACTS_PREFIX}", file_name_suffix=".jsonl"))


def read_facts(output_uri: str) -> List[ImageFacts]:
    facts = []
    for path in sorted(tf.io.gfile.glob(f"{output_uri}/{FACTS_PREFIX}-*.jsonl")):
        with tf.io.gfile.GFile(path) as f:
            facts.extend(ImageFacts(**json.loads(line)) for line in f if line.strip())
    return facts


def expected_classes(schema, reference: Optional[dict], reference_dir: str) -> Tuple[Optional[List[str]], str]:
    """The class list to hold the data to: the curated schema's label_name domain, else the reference run's."""
    if schema is not None:
        proto = tfdv.load_schema_text(f"{schema.uri}/{SCHEMA_FILE}")
        try:
            classes = list(tfdv.get_domain(proto, features.LABEL_NAME_KEY).value)
        except ValueError:  # no label_name feature or no string domain for it: nothing curated to hold to
            classes = []
        if classes:
            return classes, f"the curated schema ({features.LABEL_NAME_KEY} domain)"
    if reference is not None:
        return reference["classes"], f"the previous validated run ({reference_dir})"
    return None, ""


def blocking_message(report: dict, kept_at: str) -> str:
    return ("image validation failed, the run stops before training; nothing is pushed.\n"
            + "\n".join(summary_lines(report))
            + f"\nFull report: {kept_at}/{ref.REPORT_FILE}. Thresholds are the validation.* config keys "
              "(README, 'Image-aware validation').")


@tfx.dsl.components.component(use_beam=True)
def ImageDataValidator(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    report: tfx.dsl.components.OutputArtifact[ImageValidation],
    limits: tfx.dsl.components.Parameter[str],
    reference_dir: tfx.dsl.components.Parameter[str],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema] = None,
    beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Checks classes, geometry, leakage and drift; raises ImageValidationError on blocking findings.

    `limits` is the JSON of the `validation` config section plus `data.min_images_per_class`;
    `schema` is given only when it is curated (its label_name domain is then the expected classes).
    """
    ref.check_reachable(reference_dir)
    splits = artifact_utils.decode_split_names(examples.split_names)
    extract_facts(beam_pipeline, examples.uri, splits, report.uri)
    previous = ref.read_reference(reference_dir)
    expected, source = expected_classes(schema, previous, reference_dir)
    current_stats_path = f"{statistics.uri}/Split-{TRAIN_SPLIT}/FeatureStats.pb"
    previous_stats_path = ref.reference_statistics_path(reference_dir) if previous else None
    result = validate_images(
        read_facts(report.uri), json.loads(limits), expected, source,
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


def validation_limits(cfg: Config) -> dict:
    """The thresholds the checks read: `validation.*` (but where the reference lives) and the class minimum."""
    limits = {k: v for k, v in dataclasses.asdict(cfg.validation).items() if k != "reference_dir"}
    return {**limits, "min_images_per_class": cfg.data.min_images_per_class}


def create_image_data_validator(cfg: Config, examples, statistics, schema, pipeline_root: str):
    """The validator wired to the config: its limits, the reference location, the schema if curated."""
    return ImageDataValidator(
        examples=examples,
        statistics=statistics,
        schema=schema if cfg.data.schema_path else None,
        limits=json.dumps(validation_limits(cfg), sort_keys=True),
        reference_dir=cfg.validation.reference_dir
        or ref.default_reference_dir(pipeline_root, cfg.run.pipeline_name))
