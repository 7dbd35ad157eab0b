"""Beam: every split's tf.Examples -> one JSON line of ImageFacts per image, and reading them back.

The per-image work is `facts.image_facts`; this module only runs it over the
Examples artifact and stores the facts in the validator's output artifact, so
the checks run over a few hundred bytes per image, not over pixels.

The facts depend only on the Examples artifact and this code, and the validator runs on every run (it
reads the previous run's reference), so an earlier execution's facts of the same artifact are copied
rather than extracted again: found beside this output (`<pipeline root>/ImageDataValidator/report/<id>/`, the
local runner's layout) by the `facts_key.json` each extraction writes. Elsewhere (a Kubeflow run has its
own root) nothing is found and Beam extracts them.
"""
import json
from typing import List, Optional

import apache_beam as beam
import tensorflow as tf

from components.fs import sibling_documents, source_digest, write_json
from components.image_validation.facts import ImageFacts, image_facts
from components.image_validation.spec import FACTS_PREFIX

FACTS_KEY_FILE = "facts_key.json"
_SOURCES = ("components.image_validation.facts", "components.image_validation.extract")


def _facts_json(record: bytes, split: str) -> str:
    return json.dumps(image_facts(record, split).to_dict())


def facts_key(examples_uri: str, splits: List[str]) -> dict:
    """What an earlier extraction must share with this one: the same Examples artifact (its URI, and each
    split's file names and sizes) and the code that reads it. An artifact's files are written once, so the
    listing identifies them without reading every image again, here or in a bucket."""
    listing = {split: sorted([path.rsplit("/", 1)[-1], tf.io.gfile.stat(path).length]  # lists: as JSON reads them
                             for path in tf.io.gfile.glob(f"{examples_uri.rstrip('/')}/Split-{split}/*"))
               for split in splits}
    return {"examples_uri": examples_uri.rstrip("/"), "files": listing, "splits": list(splits),
            "code": source_digest(_SOURCES)}


def extract_facts(pipeline: beam.Pipeline, examples_uri: str, splits: List[str], output_uri: str) -> str:
    """Write `<output_uri>/facts-*.jsonl`: one line per image of every split. Returns the earlier output the
    facts were copied from, or "" when Beam extracted them."""
    key = facts_key(examples_uri, splits)
    earlier = _copy_earlier(key, output_uri)
    if earlier:
        return earlier
    with pipeline as p:
        per_split = [
            p | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
                f"{examples_uri}/Split-{split}/*", coder=beam.coders.BytesCoder())
              | f"Facts[{split}]" >> beam.Map(_facts_json, split)
            for split in splits]
        _ = (per_split | "Flatten" >> beam.Flatten()
             | "Write" >> beam.io.WriteToText(f"{output_uri}/{FACTS_PREFIX}", file_name_suffix=".jsonl"))
    write_json(f"{output_uri}/{FACTS_KEY_FILE}", {"key": key})  # last: a key is only found with its facts
    return ""


def _copy_earlier(key: dict, output_uri: str) -> Optional[str]:
    """The facts files of the newest earlier output with the same key, copied into `output_uri`; its folder."""
    newest_first = sorted(sibling_documents(output_uri, FACTS_KEY_FILE), key=lambda d: (len(d[0]), d[0]), reverse=True)
    for folder, found in newest_first:  # execution ids: a longer name is a later one
        files = tf.io.gfile.glob(f"{folder}/{FACTS_PREFIX}-*.jsonl")
        if found.get("key") == key and files:
            tf.io.gfile.makedirs(output_uri)
            for path in files:
                tf.io.gfile.copy(path, f"{output_uri}/{path.rsplit('/', 1)[-1]}", overwrite=True)
            write_json(f"{output_uri}/{FACTS_KEY_FILE}", {"key": key, "copied_from": folder})
            return folder
    return None


def read_facts(output_uri: str) -> List[ImageFacts]:
    facts = []
    for path in sorted(tf.io.gfile.glob(f"{output_uri}/{FACTS_PREFIX}-*.jsonl")):
        with tf.io.gfile.GFile(path) as f:
            facts.extend(ImageFacts(**json.loads(line)) for line in f if line.strip())
    return facts
