"""The report's data section: what was ingested, set aside, found by validation, and sample pictures.

Everything is read from the run's artifacts: the Examples TFRecords (split names
from the artifact's `split_names`, never assumed), `quarantine.json` beside them,
and the ImageDataValidator's `image_validation.json` (or the copy a blocked run
keeps in `<uri>.stopped`). Only sizes and labels of every image are kept; encoded
bytes only for the few pictures the report shows.
"""
from __future__ import annotations

import collections
import json
import os
from typing import Dict, Iterator, List, Optional, Set, Tuple

from components.image_example_gen import spec as example_gen
from components.image_example_gen.manifest import read_quarantine
from components.image_validation import spec as image_validation
from pipeline.history.run_record import RunRecord, artifact_property
from schemas import features

THUMBNAILS_PER_CLASS = 6
LEAK_PAIRS_SHOWN = 6


def examples_artifact(record: RunRecord):
    found = record.outputs(example_gen.NODE_ID, "Examples")
    return found[0] if found else None


def split_names(examples) -> List[str]:
    return json.loads(artifact_property(examples, "split_names") or "[]")


def iter_examples(examples_uri: str, split: str) -> Iterator[dict]:
    """Each tf.Example of one split as {path, label_name, label, width, height, image, serialized}."""
    import tensorflow as tf
    files = tf.io.gfile.glob(f"{examples_uri}/Split-{split}/*")
    for serialized in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        feature = tf.train.Example.FromString(serialized).features.feature
        yield {"path": feature[features.PATH_KEY].bytes_list.value[0].decode("utf-8", "replace"),
               "label_name": feature[features.LABEL_NAME_KEY].bytes_list.value[0].decode("utf-8", "replace"),
               "label": int(feature[features.LABEL_KEY].int64_list.value[0]),
               "width": int(feature[features.WIDTH_KEY].int64_list.value[0]),
               "height": int(feature[features.HEIGHT_KEY].int64_list.value[0]),
               "image": feature[features.IMAGE_KEY].bytes_list.value[0], "serialized": serialized}


def read_validation(record: RunRecord, pipeline_root: str) -> Optional[dict]:
    """The image validation report of the run: the artifact's, or the copy a blocked run kept."""
    import tensorflow as tf
    node = record.node(image_validation.NODE_ID)
    if node is None:
        return None
    uris = [a.uri for a in node.outputs]
    uris += [u + features.STOPPED_SUFFIX for u in uris]
    uris.append(os.path.join(pipeline_root, image_validation.NODE_ID, "report",
                             f"{node.execution_id}{features.STOPPED_SUFFIX}"))
    for uri in uris:
        if tf.io.gfile.exists(f"{uri}/{image_validation.REPORT_FILE}"):
            with tf.io.gfile.GFile(f"{uri}/{image_validation.REPORT_FILE}") as f:
                return {**json.load(f), "report_path": f"{uri}/{image_validation.REPORT_FILE}"}
    return None


def leak_pairs(validation: Optional[dict]) -> List[Tuple[str, str, str]]:
    """(train path, held-out path, 'exact' or 'near, N bits') of the first leaked pairs found."""
    pairs = []
    for leak in (validation or {}).get("leaks", [])[:LEAK_PAIRS_SHOWN]:
        others = [v for k, v in leak.items() if k not in ("train", "kind", "distance")]
        kind = leak.get("kind", "")
        detail = kind if kind == "exact" else f"{kind}, {leak.get('distance')} bits"
        pairs.append((leak.get("train", ""), others[0] if others else "", detail))
    return pairs


def data_section(record: RunRecord, pipeline_root: str) -> dict:
    """Counts per class per split, image sizes, thumbnails, quarantine, validation findings, leaks.

    With batch folders, the samples are the newest batch's (the one this run is about, e.g. the one a
    drift check blocked), beside the previous batch's when the window holds it."""
    examples = examples_artifact(record)
    if examples is None:
        return {"unavailable": "ImageExampleGen recorded no Examples artifact (ingestion stopped the run)"}
    validation = read_validation(record, pipeline_root)
    pairs = leak_pairs(validation)
    wanted: Set[str] = {p for pair in pairs for p in pair[:2]}
    batches = json.loads(artifact_property(examples, example_gen.SPAN_FOLDERS_PROPERTY) or "[]")[-2:][::-1]
    counts: Dict[str, Dict[str, int]] = {}
    sizes: List[Tuple[int, int]] = []
    thumbnails = {batch: collections.defaultdict(list) for batch in batches or [""]}
    pictures: Dict[str, bytes] = {}
    for split in split_names(examples):
        counts[split] = collections.Counter()
        for ex in iter_examples(examples.uri, split):
            counts[split][ex["label_name"]] += 1
            sizes.append((ex["width"], ex["height"]))
            shown = thumbnails.get(ex["path"].split("/", 1)[0] if batches else "")
            if shown is not None and len(shown[ex["label_name"]]) < THUMBNAILS_PER_CLASS:
                shown[ex["label_name"]].append((ex["path"], ex["image"]))
            if ex["path"] in wanted:
                pictures[ex["path"]] = ex["image"]
    return {"examples_uri": examples.uri, "splits": list(counts),
            "counts": {s: dict(sorted(c.items())) for s, c in counts.items()}, "sizes": sizes,
            "batches": batches, "thumbnails": {b: dict(sorted(t.items())) for b, t in thumbnails.items()},
            "quarantine": read_quarantine(examples.uri), "validation": validation,
            "leaks": [(a, b, d, pictures.get(a), pictures.get(b)) for a, b, d in pairs]}
