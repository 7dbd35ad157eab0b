"""Data validation: TFX's StatisticsGen, SchemaGen (or ImportSchemaGen) and ExampleValidator, then DataGate.

TFDV does the work; our part is the wiring (image statistics on, the golden split left out of the
schema and its checks) and DataGate (gate.py), which stops the run when ExampleValidator found anomalies.
"""
from __future__ import annotations

from typing import List, NamedTuple

import tensorflow_data_validation as tfdv
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


def create_data_validation(data: DataConfig, examples) -> DataValidation:
    """Statistics (image-domain stats on), a schema inferred or curated, each split checked, a gate.

    The golden images (data.golden_dir) judge models only: the schema is inferred from, and checked
    against, the data the model trains on.
    """
    not_golden = [features.GOLDEN_SPLIT] if data.golden_dir else []
    statistics_gen = tfx.components.StatisticsGen(
        examples=examples, stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True),
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
