"""FileBasedExampleGen executor that ingests a folder of class sub-folders of images.

The base executor does the rest: it hash-partitions the examples into splits
(by the `path` feature when output_config says `partition_feature_name: "path"`)
and writes gzip TFRecords, so downstream components see a standard Examples artifact.
"""
import json
import os
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import standard_component_specs

from components import features
from components.image_example_gen.folder import FolderScan, ImageFile, read_image, scan_image_folder, to_tf_example

LABEL_NAMES_PROPERTY = "label_names"    # JSON text of the class list, index == label
NUM_EXAMPLES_PROPERTY = "num_examples"
# Private exec property: the scan made in Do, so the files ingested are exactly the ones in the manifest.
_SCAN_KEY = "_image_folder_scan"


def _read_example(image_file: ImageFile, root: str) -> tf.train.Example:
    return to_tf_example(read_image(root, image_file))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFolderToExample(  # pylint: disable=invalid-name
        pipeline: beam.Pipeline, exec_properties: Dict[str, Any], split_pattern: str) -> beam.pvalue.PCollection:
    """One tf.Example per image file under `input_base`.

    `split_pattern` only drives the driver's input fingerprint: which files are
    images, and their classes, follow from the folder layout, not from a glob.
    """
    scan = exec_properties.get(_SCAN_KEY) or scan_image_folder(
        exec_properties[standard_component_specs.INPUT_BASE_KEY])
    logging.info("Reading %d images in %d classes from %s (split pattern %r).",
                 len(scan.files), len(scan.class_names), scan.root, split_pattern)
    return (pipeline
            | "ListImages" >> beam.Create(scan.files)
            # Create puts every file in one bundle; reshuffle so reads spread over workers.
            | "SpreadReads" >> beam.Reshuffle()
            | "ReadImage" >> beam.Map(_read_example, scan.root))


class Executor(BaseExampleGenExecutor):
    """Image-folder ExampleGen: `<input_base>/<class_name>/<image files>` -> tf.Examples.

    Besides the Split-* folders it writes `labels.txt` and `manifest.json` at the
    artifact's root, and sets the `label_names` and `num_examples` custom properties.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ImageFolderToExample

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Scan first so a bad folder fails before Beam starts, then ingest and describe the result."""
        scan = scan_image_folder(exec_properties[standard_component_specs.INPUT_BASE_KEY])
        logging.info("Image folder %s: %s; skipped %d file(s).", scan.root, scan.class_counts(), len(scan.skipped))
        super().Do(input_dict, output_dict, {**exec_properties, _SCAN_KEY: scan})
        for artifact in output_dict[standard_component_specs.EXAMPLES_KEY]:
            write_folder_metadata(artifact.uri, scan)
            artifact.set_string_custom_property(LABEL_NAMES_PROPERTY, json.dumps(scan.class_names))
            artifact.set_int_custom_property(NUM_EXAMPLES_PROPERTY, len(scan.files))


def write_folder_metadata(artifact_uri: str, scan: FolderScan) -> None:
    """Write labels.txt and manifest.json beside the Split-* folders, where the trainer finds them."""
    with tf.io.gfile.GFile(os.path.join(artifact_uri, features.LABELS_FILE), "w") as f:
        f.write("".join(name + "\n" for name in scan.class_names))
    with tf.io.gfile.GFile(os.path.join(artifact_uri, features.MANIFEST_FILE), "w") as f:
        f.write(json.dumps(scan.manifest(), indent=2, sort_keys=True) + "\n")
