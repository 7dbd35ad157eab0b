"""Ingest a folder without a pipeline: the component's own exec properties and executor on Beam's DirectRunner.

For benchmarks and tests that measure or check ingestion alone. With `driver`, TFX's FileBasedDriver
resolves the exec properties first (span, version, the split pattern), as LocalDagRunner and Vertex do;
without, none runs, as on open-source Kubeflow v2.
"""
from __future__ import annotations

from typing import Optional

from schemas import features
from schemas.config import DataConfig

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def ingest(data: DataConfig, data_root: str, out_dir: str, span: Optional[int] = None, driver: bool = False):
    """Run ImageExampleGen's executor on `data_root` into `out_dir`; return the Examples artifact.

    The Beam args go in through the executor context's pipeline factory: given as `beam_pipeline_args`,
    TFX's BaseBeamExecutor would copy TFX (~50 MB) and build an sdist of it on every construction.
    """
    import apache_beam as beam
    from tfx.components.example_gen.driver import FileBasedDriver
    from tfx.types import artifact_utils, standard_artifacts

    from components.image_example_gen.component import create_image_example_gen
    from components.image_example_gen.executor import Executor

    exec_properties = dict(create_image_example_gen(data, str(data_root), span).exec_properties)
    if driver:
        exec_properties = FileBasedDriver(None).resolve_exec_properties(exec_properties, None, None)
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    examples.split_names = artifact_utils.encode_split_names(
        [features.TRAIN_SPLIT, features.VALIDATION_SPLIT, features.TEST_SPLIT])
    context = Executor.Context(make_beam_pipeline_fn=lambda: beam.Pipeline(argv=IN_MEMORY))
    Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    return examples
