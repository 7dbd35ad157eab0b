"""Data validation: TFX's StatisticsGen, SchemaGen (or ImportSchemaGen) and ExampleValidator, then DataGate.

TFDV does the work; our part is the wiring (image statistics on, the golden split left out of the
schema and its checks) and DataGate (gate.py), which stops the run when ExampleValidator found anomalies.
"""
from __future__ import annotations

from typing import List, NamedTuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx

from components.data_validation.gate import DataGate
from components.data_validation.spec import (
    DATA_GATE_ID,
    EXAMPLE_VALIDATOR_ID,
    IMPORT_SCHEMA_GEN_ID,
    SCHEMA_GEN_ID,
    STATISTICS_GEN_ID,
)
from schemas import features
from schemas.config import DataConfig


class DataValidation(NamedTuple):
    statistics_gen: tfx.components.StatisticsGen
    schema_gen: object  # SchemaGen (inferred) or ImportSchemaGen (data.schema_path)
    example_validator: tfx.components.ExampleValidator
    data_gate: object

    @property
    def nodes(self) -> List[object]:
        return list(self)


def statistics_options() -> tfdv.StatsOptions:
    """What StatisticsGen computes: TFDV's defaults plus image-domain statistics, the image feature as bytes.

    The schema given here is not a check (SchemaGen / ImportSchemaGen and ExampleValidator do those); it
    tells TFDV that `image` holds images. TFDV then keeps byte sizes for it instead of treating each
    encoded image as a categorical string, whose top-k/uniques counter held every distinct image's bytes
    (~4x a split's size in memory; docs/performance.md#statisticsgen-the-image-feature-as-bytes-2026-12-07).
    The byte sizes are what a curated schema's image_domain.max_image_byte_size is checked against (with
    string statistics that limit was never checked). Every other feature gets the same statistics, and
    SchemaGen infers the same schema (tests/test_data_validation.py).
    """
    schema = schema_pb2.Schema()
    image = schema.feature.add(name=features.IMAGE_KEY, type=schema_pb2.BYTES)
    image.image_domain.SetInParent()
    return tfdv.StatsOptions(enable_semantic_domain_stats=True, schema=schema)


def create_data_validation(data: DataConfig, examples) -> DataValidation:
    """Statistics (image-domain stats on), a schema inferred or curated, each split checked, a gate.

    The golden images (data.golden_dir) judge models only: the schema is inferred from, and checked
    against, the data the model trains on.
    """
    not_golden = [features.GOLDEN_SPLIT] if data.golden_dir else []
    statistics_gen = tfx.components.StatisticsGen(
        examples=examples, stats_options=statistics_options(),
    ).with_id(STATISTICS_GEN_ID)
    if data.schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=data.schema_path).with_id(IMPORT_SCHEMA_GEN_ID)
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True, exclude_splits=not_golden,
        ).with_id(SCHEMA_GEN_ID)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        exclude_splits=not_golden).with_id(EXAMPLE_VALIDATOR_ID)
    data_gate = DataGate(anomalies=example_validator.outputs["anomalies"]).with_id(DATA_GATE_ID)
    return DataValidation(statistics_gen, schema_gen, example_validator, data_gate)
