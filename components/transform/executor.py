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

import dataclasses
import json
import os
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.transform import executor as tfx_transform
from tfx.types import standard_component_specs as specs

from components.image_example_gen.manifest import read_short_sides
from components.transform.image_size import choose_image_size
from components.transform.spec import (
    IMAGE_SIZE_FILE,
    IMAGE_SIZE_PROPERTY,
    IMAGE_SIZE_SOURCE_PROPERTY,
    MEDIAN_SHORT_SIDE_PROPERTY,
    RESIZE_NOTE_PROPERTY,
    TransformSettings,
)
from schemas import carrier


class Executor(tfx_transform.Executor):
    """The stock Transform executor, after turning custom_config's image size into an integer."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        settings = carrier.from_json(TransformSettings, exec_properties.get(specs.CUSTOM_CONFIG_KEY) or "{}")
        (examples,) = input_dict[specs.EXAMPLES_KEY]
        choice = choose_image_size(settings.image_size, read_short_sides(examples.uri),
                                   settings.image_size_auto_min, settings.image_size_auto_max, settings.backbone)
        logging.info("Image size %d px (%s; median short side %d px). %s", choice.size, choice.source,
                     choice.median_short_side, choice.note)
        resolved = carrier.to_json(dataclasses.replace(settings, image_size=choice.size))
        super().Do(input_dict, output_dict, {**exec_properties, specs.CUSTOM_CONFIG_KEY: resolved})
        (graph,) = output_dict[specs.TRANSFORM_GRAPH_KEY]
        graph.set_int_custom_property(IMAGE_SIZE_PROPERTY, choice.size)
        graph.set_string_custom_property(IMAGE_SIZE_SOURCE_PROPERTY, choice.source)
        graph.set_int_custom_property(MEDIAN_SHORT_SIDE_PROPERTY, choice.median_short_side)
        graph.set_string_custom_property(RESIZE_NOTE_PROPERTY, choice.note)
        with tf.io.gfile.GFile(os.path.join(graph.uri, IMAGE_SIZE_FILE), "w") as f:
            f.write(json.dumps(choice.to_dict(), indent=2) + "\n")
