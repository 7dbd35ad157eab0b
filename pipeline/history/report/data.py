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

from schemas import features
from pipeline.history.run_record import RunRecord, artifact_property

THUMBNAILS_PER_CLASS = 6
LEAK_PAIRS_SHOWN = 6


def examples_artifact(record: RunRecord):
    found = record.outputs("ImageExampleGen", "Examples")
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
    from components.image_validation.reference import REPORT_FILE
    node = record.node("ImageDataValidator")
    if node is None:
        return None
    uris = [a.uri for a in node.outputs]
    uris += [u + features.STOPPED_SUFFIX for u in uris]
    uris.append(os.path.join(pipeline_root, "ImageDataValidator", "report",
                             f"{node.execution_id}{features.STOPPED_SUFFIX}"))
    for uri in uris:
        if tf.io.gfile.exists(f"{uri}/{REPORT_FILE}"):
            with tf.io.gfile.GFile(f"{uri}/{REPORT_FILE}") as f:
                return {**json.load(f), "report_path": f"{uri}/{REPORT_FILE}"}
    return None


def read_quarantine(examples_uri: str) -> List[dict]:
    import tensorflow as tf
    path = f"{examples_uri}/{features.QUARANTINE_FILE}"
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


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
    """Counts per class per split, image sizes, thumbnails, quarantine, validation findings, leaks."""
    examples = examples_artifact(record)
    if examples is None:
        return {"unavailable": "ImageExampleGen recorded no Examples artifact (ingestion stopped the run)"}
    validation = read_validation(record, pipeline_root)
    pairs = leak_pairs(validation)
    wanted: Set[str] = {p for pair in pairs for p in pair[:2]}
    counts: Dict[str, Dict[str, int]] = {}
    sizes: List[Tuple[int, int]] = []
    thumbnails: Dict[str, List[Tuple[str, bytes]]] = collections.defaultdict(list)
    pictures: Dict[str, bytes] = {}
    for split in split_names(examples):
        counts[split] = collections.Counter()
        for ex in iter_examples(examples.uri, split):
            counts[split][ex["label_name"]] += 1
            sizes.append((ex["width"], ex["height"]))
            if len(thumbnails[ex["label_name"]]) < THUMBNAILS_PER_CLASS:
                thumbnails[ex["label_name"]].append((ex["path"], ex["image"]))
            if ex["path"] in wanted:
                pictures[ex["path"]] = ex["image"]
    return {"examples_uri": examples.uri, "splits": list(counts),
            "counts": {s: dict(sorted(c.items())) for s, c in counts.items()},
            "sizes": sizes, "thumbnails": dict(sorted(thumbnails.items())),
            "quarantine": read_quarantine(examples.uri), "validation": validation,
            "leaks": [(a, b, d, pictures.get(a), pictures.get(b)) for a, b, d in pairs]}
