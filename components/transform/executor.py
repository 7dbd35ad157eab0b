"""Transform with `data.image_size=auto` resolved when the graph is built.

The Transform graph needs the image size as a constant, and with `auto` it is
only known once ImageExampleGen has seen the images. This executor reads the
short-side histogram from the Examples artifact's manifest.json, applies the
rule in components/transform/image_size.py, hands the integer to
`preprocessing_fn` through custom_config, and records the choice on the
transform_graph artifact (custom properties, read by the run summary) and in
`image_size.json` inside it. The Trainer reads the size back from the graph.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.transform import executor as tfx_transform
from tfx.types import standard_component_specs as specs

from components.transform.image_size import choose_image_size
from components.transform.preprocessing import IMAGE_SIZE_KEY
from schemas import features

AUTO_MIN_KEY, AUTO_MAX_KEY = "image_size_auto_min", "image_size_auto_max"  # custom_config keys
IMAGE_SIZE_PROPERTY = "image_size"              # int: the side the graph resizes to
IMAGE_SIZE_SOURCE_PROPERTY = "image_size_source"  # "auto" or "data.image_size"
MEDIAN_SHORT_SIDE_PROPERTY = "median_short_side"
RESIZE_NOTE_PROPERTY = "resize_note"            # "" or one line on heavy up/downsampling
IMAGE_SIZE_FILE = "image_size.json"


class Executor(tfx_transform.Executor):
    """The stock Transform executor, after turning custom_config's image size into an integer."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        custom = json.loads(exec_properties.get(specs.CUSTOM_CONFIG_KEY) or "{}")
        (examples,) = input_dict[specs.EXAMPLES_KEY]
        choice = choose_image_size(custom.get(IMAGE_SIZE_KEY), read_short_sides(examples.uri),
                                   custom.get(AUTO_MIN_KEY, 0), custom.get(AUTO_MAX_KEY, 0))
        logging.info("Image size %d px (%s; median short side %d px). %s", choice.size, choice.source,
                     choice.median_short_side, choice.note)
        custom[IMAGE_SIZE_KEY] = choice.size
        super().Do(input_dict, output_dict, {**exec_properties, specs.CUSTOM_CONFIG_KEY: json.dumps(custom)})
        (graph,) = output_dict[specs.TRANSFORM_GRAPH_KEY]
        graph.set_int_custom_property(IMAGE_SIZE_PROPERTY, choice.size)
        graph.set_string_custom_property(IMAGE_SIZE_SOURCE_PROPERTY, choice.source)
        graph.set_int_custom_property(MEDIAN_SHORT_SIDE_PROPERTY, choice.median_short_side)
        graph.set_string_custom_property(RESIZE_NOTE_PROPERTY, choice.note)
        with tf.io.gfile.GFile(os.path.join(graph.uri, IMAGE_SIZE_FILE), "w") as f:
            f.write(json.dumps(choice.to_dict(), indent=2) + "\n")


def read_short_sides(examples_uri: str) -> Dict[str, int]:
    """The {short side: images} histogram ImageExampleGen wrote; {} for Examples from elsewhere."""
    path = os.path.join(examples_uri, features.MANIFEST_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f).get(features.SHORT_SIDE_HISTOGRAM, {})
