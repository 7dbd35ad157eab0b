"""Beam: every split's tf.Examples -> one JSON line of ImageFacts per image, and reading them back.

The per-image work is `facts.image_facts`; this module only runs it over the
Examples artifact and stores the facts in the validator's output artifact, so
the checks run over a few hundred bytes per image, not over pixels.
"""
import json
from typing import List

import apache_beam as beam
import tensorflow as tf

from components.image_validation.facts import ImageFacts, image_facts
from components.image_validation.spec import FACTS_PREFIX



def _facts_json(record: bytes, split: str) -> str:
    return json.dumps(image_facts(record, split).to_dict())


def extract_facts(pipeline: beam.Pipeline, examples_uri: str, splits: List[str], output_uri: str) -> None:
    """Write `<output_uri>/facts-*.jsonl`: one line per image of every split."""
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
