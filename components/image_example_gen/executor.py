"""FileBasedExampleGen executor that ingests a folder of class sub-folders of images.

Each candidate file is inspected (quarantine.inspect_images, in batches): usable images
become tf.Examples, unusable ones are set aside with a reason. The base executor
hash-partitions the examples into splits (by the `path` feature when output_config
says `partition_feature_name: "path"`); they are written as TFX writes them (gzip
TFRecords), without TFX's in-memory shuffle first (Executor._write_examples), so
downstream components see a standard Examples artifact.
"""
import collections
import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen.eval_sets import newest_span_test_only, scan_golden_folder
from components.image_example_gen.folder import FolderScan, ImageFile, scan_image_folder, to_tf_example
from components.image_example_gen.limits import check_bad_fraction, check_class_minimum, ingested_counts
from components.image_example_gen.manifest import write_folder_metadata
from components.image_example_gen.quarantine import Quarantined, inspect_images
from components.image_example_gen.record_writer import write_split_records
from components.image_example_gen.spans import SpanFolder, scan_span_folders, select_window
from components.image_example_gen.spec import (
    LABEL_NAMES_PROPERTY,
    NUM_EXAMPLES_PROPERTY,
    NUM_QUARANTINED_PROPERTY,
    QUARANTINE_FILE,
    SETTINGS_KEY,
    SPAN_FOLDERS_PROPERTY,
    SPANS_PROPERTY,
    IngestLimits,
    IngestSettings,
)
from schemas import carrier, features

# Private exec properties: the scan made in Do (so the files ingested are exactly the ones
# in the manifest), the limits, and where the Beam job leaves its per-file notes.
_SCAN_KEY = "_image_folder_scan"
_LIMITS_KEY = "_ingest_limits"
_NOTES_KEY = "_ingest_notes_prefix"
_GOLDEN_SCAN_KEY = "_golden_folder_scan"
_GOLDEN_NOTES_KEY = "_golden_notes_prefix"
_HASHED_CONFIG_KEY = "_hashed_output_config"
_QUARANTINED, _CONVERTED, _SHORT_SIDES = "quarantined", "converted", "short_sides"
_NOTES_DIR = ".ingest_notes"
_INSPECT_BATCH = 64  # files per decoder call at most


class _InspectImages(beam.DoFn):
    """A batch of candidate files -> a tf.Example per usable image (main output), a JSON note per quarantined
    or converted file, and (side, count) pairs of the images' short sides."""

    def __init__(self, root: str, limits: IngestLimits):
        super().__init__()
        self._root = root
        self._limits = limits

    def process(self, image_files: List[ImageFile]):
        short_sides = collections.Counter()
        for outcome in inspect_images(self._root, image_files, self._limits.max_image_pixels,
                                      self._limits.max_file_mb):
            if outcome.quarantined is not None:
                yield beam.pvalue.TaggedOutput(_QUARANTINED, json.dumps(outcome.quarantined.to_dict()))
                continue
            if outcome.note:
                yield beam.pvalue.TaggedOutput(_CONVERTED, json.dumps({"path": outcome.path, "note": outcome.note}))
            short_sides[min(outcome.record[features.HEIGHT_KEY], outcome.record[features.WIDTH_KEY])] += 1
            yield to_tf_example(outcome.record)
        for side, count in short_sides.items():
            yield beam.pvalue.TaggedOutput(_SHORT_SIDES, (side, count))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFolderToExample(  # pylint: disable=invalid-name
        pipeline: beam.Pipeline, exec_properties: Dict[str, Any], split_pattern: str) -> beam.pvalue.PCollection:
    """One tf.Example per usable image file under `input_base`; notes on the others go to a side file.

    `split_pattern` only drives the driver's input fingerprint: which files are
    images, and their classes, follow from the folder layout, not from a glob.
    """
    limits = exec_properties.get(_LIMITS_KEY) or settings_from_exec_properties(exec_properties).limits
    scan = exec_properties.get(_SCAN_KEY) or scan_input(exec_properties, limits)[0]
    logging.info("Inspecting %d candidate images in %d classes from %s (split pattern %r).",
                 len(scan.files), len(scan.class_names), scan.root, split_pattern)
    results = _inspect_all(pipeline, scan, limits, "")
    notes_prefix = exec_properties.get(_NOTES_KEY)
    if notes_prefix:
        short_sides = (results[_SHORT_SIDES] | "CountShortSides" >> beam.CombinePerKey(sum)
                       | "ShortSideJson" >> beam.MapTuple(lambda side, n: json.dumps({"side": side, "count": n})))
        for kind, notes in ((_QUARANTINED, results[_QUARANTINED]), (_CONVERTED, results[_CONVERTED]),
                            (_SHORT_SIDES, short_sides)):
            _ = notes | f"Write{kind.title()}" >> beam.io.WriteToText(
                f"{notes_prefix}-{kind}", file_name_suffix=".jsonl")
    return results.examples


def _inspect_all(pipeline: beam.Pipeline, scan: FolderScan, limits: IngestLimits, label: str):
    """Every file of `scan` through _InspectImages: examples (main output) and the tagged notes."""
    # A fixed mix of the classes (by a hash of each path), so the examples are written mixed: the scan
    # lists them class by class, and nothing shuffles the records before they are written (_write_examples).
    mixed = sorted(scan.files, key=lambda f: hashlib.sha256(f.rel_path.encode("utf-8", "surrogateescape")).digest())
    batches = [mixed[i:i + _INSPECT_BATCH] for i in range(0, len(mixed), _INSPECT_BATCH)]
    return (pipeline
            | f"List{label}Images" >> beam.Create(batches)
            # Create puts every batch in one bundle; reshuffle so reads spread over workers. Batches, because
            # small images are decoded in one decoder call (quarantine.inspect_images).
            | f"Spread{label}Reads" >> beam.Reshuffle()
            | f"Inspect{label}Images" >> beam.ParDo(_InspectImages(scan.root, limits)).with_outputs(
                _QUARANTINED, _CONVERTED, _SHORT_SIDES, main="examples"))


def _with_split(example: tf.train.Example, split: str) -> tf.train.Example:
    """A copy of the example carrying its split name (features.SPLIT_KEY), for the Evaluator's slices."""
    tagged = tf.train.Example()
    tagged.CopyFrom(example)
    tagged.features.feature[features.SPLIT_KEY].bytes_list.value.append(split.encode())
    return tagged


def settings_from_exec_properties(exec_properties: Dict[str, Any]) -> IngestSettings:
    """The IngestSettings create_image_example_gen packed into `custom_config`; the defaults when absent."""
    from google.protobuf import struct_pb2

    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return IngestSettings.defaults()
    custom = proto_utils.json_to_proto(text, example_gen_pb2.CustomConfig())
    struct = struct_pb2.Struct()
    if not custom.custom_config.Unpack(struct) or SETTINGS_KEY not in struct:
        return IngestSettings.defaults()
    return carrier.from_json(IngestSettings, struct[SETTINGS_KEY])


def scan_input(exec_properties: Dict[str, Any], limits: IngestLimits) -> Tuple[FolderScan, List[SpanFolder]]:
    """The images to ingest: the data root's class folders, or those of the window of span folders."""
    root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    skip_empty = limits.min_images_per_class == 0
    settings = settings_from_exec_properties(exec_properties)
    if not settings.span_pattern:
        return scan_image_folder(root, skip_empty), []
    folders = select_window(root, settings.span_pattern, settings.window_spans, _target_span(exec_properties))
    scan = scan_span_folders(root, folders, skip_empty)
    if len(folders) > 1:
        scan = newest_span_test_only(scan, folders[-1].name, _hash_splits(exec_properties))
    return scan, folders


def _hash_splits(exec_properties: Dict[str, Any]) -> List[Tuple[str, int]]:
    """(split name, hash buckets) of the output config, in order: what TFX's partition hashes into."""
    output_config = proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
    return [(split.name, split.hash_buckets) for split in output_config.split_config.splits]


def _golden_output_config(exec_properties: Dict[str, Any], golden: Optional[FolderScan]) -> Dict[str, Any]:
    """With a golden folder: an output config naming the `golden` split too, as TFX's Do lists the artifact's
    splits from it (and writes only listed ones); the hash partition keeps the configured splits."""
    if golden is None:
        return {}
    hashed = exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY]
    listed = proto_utils.json_to_proto(hashed, example_gen_pb2.Output())
    listed.split_config.splits.add(name=features.GOLDEN_SPLIT, hash_buckets=1)  # TFX wants > 0; never hashed into
    return {standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(listed),
            _HASHED_CONFIG_KEY: hashed}


def golden_scan(exec_properties: Dict[str, Any], scan: FolderScan) -> Optional[FolderScan]:
    """The golden folder's images (data.golden_dir) labelled as the training classes; None when unset."""
    golden_dir = settings_from_exec_properties(exec_properties).golden_dir
    if not golden_dir:
        return None
    return scan_golden_folder(golden_dir, exec_properties[standard_component_specs.INPUT_BASE_KEY],
                              scan.class_names)


def _target_span(exec_properties: Dict[str, Any]) -> Optional[int]:
    """The span TFX's driver resolved; where no driver ran (open-source KFP), a static RangeConfig's; else None.

    None means the newest span, which is what the driver picks without a RangeConfig.
    """
    if exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) is not None:
        return int(exec_properties[example_gen_utils.SPAN_PROPERTY_NAME])
    text = exec_properties.get(standard_component_specs.RANGE_CONFIG_KEY)
    if text:
        range_config = proto_utils.json_to_proto(text, range_config_pb2.RangeConfig())
        if range_config.HasField("static_range"):
            return range_config.static_range.start_span_number
    return None


def _record_spans(artifact: types.Artifact, folders: Sequence[SpanFolder]) -> None:
    """TFX's `span`/`version` (set here too where no driver ran) and the window's spans and folders."""
    if not folders:
        return
    artifact.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, folders[-1].span)
    if folders[-1].version is not None:
        artifact.set_int_custom_property(example_gen_utils.VERSION_PROPERTY_NAME, folders[-1].version)
    artifact.set_string_custom_property(SPANS_PROPERTY, json.dumps([f.span for f in folders]))
    artifact.set_string_custom_property(SPAN_FOLDERS_PROPERTY, json.dumps([f.name for f in folders]))


class Executor(BaseExampleGenExecutor):
    """Image-folder ExampleGen: `<input_base>/<class_name>/<image files>` -> tf.Examples.

    Besides the Split-* folders it writes `labels.txt`, `manifest.json` and
    `quarantine.json` at the artifact's root, and sets the `label_names`,
    `num_examples` and `num_quarantined` custom properties. Exceeding an
    ingestion limit fails the execution with a message naming the limit.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ImageFolderToExample

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.pvalue.PCollection]:
        """TFX's hash splits, plus the golden folder as a split of its own, every example tagged with its split.

        Only with data.golden_dir: without it the examples are exactly TFX's.
        """
        golden = exec_properties.get(_GOLDEN_SCAN_KEY)
        if golden is None:
            return super().GenerateExamplesByBeam(pipeline, exec_properties)
        splits = super().GenerateExamplesByBeam(pipeline, {
            **exec_properties, standard_component_specs.OUTPUT_CONFIG_KEY: exec_properties[_HASHED_CONFIG_KEY]})
        limits = exec_properties[_LIMITS_KEY]
        results = _inspect_all(pipeline, golden, limits, "Golden")
        for kind in (_QUARANTINED, _CONVERTED):
            _ = results[kind] | f"WriteGolden{kind.title()}" >> beam.io.WriteToText(
                f"{exec_properties[_GOLDEN_NOTES_KEY]}-{kind}", file_name_suffix=".jsonl")
        splits[features.GOLDEN_SPLIT] = results.examples
        return {name: examples | f"TagSplit[{name}]" >> beam.Map(_with_split, name)
                for name, examples in splits.items()}

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Scan first so a bad folder fails before Beam starts, then ingest, report, and apply the limits."""
        limits = settings_from_exec_properties(exec_properties).limits
        scan, folders = scan_input(exec_properties, limits)
        logging.info("Image folder %s%s: %s; skipped %d file(s); limits %s.", scan.root,
                     f" spans {[f.name for f in folders]}" if folders else "", scan.class_counts(),
                     len(scan.skipped), limits)
        # Found files are an upper bound on usable ones: a class short of files fails before any read.
        check_class_minimum(scan.class_counts(), limits, "image files")
        golden = golden_scan(exec_properties, scan)
        (artifact,) = output_dict[standard_component_specs.EXAMPLES_KEY]
        notes_prefix = os.path.join(artifact.uri, _NOTES_DIR, "notes")
        golden_notes = os.path.join(artifact.uri, _NOTES_DIR + "-golden", "notes")
        self._log_startup(input_dict, output_dict, exec_properties)
        self._write_examples(artifact, {
            **exec_properties, **_golden_output_config(exec_properties, golden), _SCAN_KEY: scan,
            _LIMITS_KEY: limits, _NOTES_KEY: notes_prefix, _GOLDEN_SCAN_KEY: golden, _GOLDEN_NOTES_KEY: golden_notes})
        quarantined, converted, short_sides = _read_notes(notes_prefix)
        counts = ingested_counts(scan.class_names, scan.class_counts(), quarantined)
        report_path = write_folder_metadata(artifact.uri, scan, counts, quarantined, converted, short_sides,
                                            folders, _golden_facts(golden, golden_notes, exec_properties))
        _record_spans(artifact, folders)
        artifact.set_string_custom_property(LABEL_NAMES_PROPERTY, json.dumps(scan.class_names))
        artifact.set_int_custom_property(NUM_EXAMPLES_PROPERTY, sum(counts.values()))
        artifact.set_int_custom_property(NUM_QUARANTINED_PROPERTY, len(quarantined))
        _apply_limits(artifact.uri, report_path, scan, counts, quarantined, limits)


    def _write_examples(self, artifact: types.Artifact, exec_properties: Dict[str, Any]) -> None:
        """Each split's examples to `Split-<name>/data_tfrecord-*.gz`, as TFX's ExampleGen writes them, but
        streamed: TFX's own write (write_split.WriteSplit) reshuffles every serialized example first, which
        the in-memory runner holds all at once (~5x the folder's bytes at peak). The files are read in an
        order already mixed (_inspect_all), so the records need no second shuffle; the splits, their
        names, the gzip TFRecords (not deflated: records.write_split_records) and the artifact's payload and
        file format are TFX's."""
        input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        artifact.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config))
        with self._make_beam_pipeline() as pipeline:
            for split, examples in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
                _ = (examples
                     | f"Serialize[{split}]" >> beam.Map(lambda e: e.SerializeToString(deterministic=True))
                     | f"Write[{split}]" >> write_split_records(
                         os.path.join(artifact_utils.get_split_uri([artifact], split), write_split.DEFAULT_FILE_NAME)))
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        if payload_format:
            examples_utils.set_payload_format(artifact, payload_format)
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        if file_format:
            examples_utils.set_file_format(artifact, write_split.to_file_format_str(file_format))


def _apply_limits(uri: str, report_path: str, scan: FolderScan, counts: Dict[str, int],
                  quarantined: Sequence[Quarantined], limits: IngestLimits) -> None:
    """Raise IngestionLimitError when a limit is exceeded, after keeping the report where it survives.

    TFX deletes a failed execution's output folder, so the report the message
    points at is copied beside it first, to `<artifact uri>.stopped/quarantine.json`.
    """
    try:
        check_bad_fraction(quarantined, len(scan.files), limits, report_path)
        check_class_minimum(counts, limits, "usable images",
                            f" Quarantined files: {report_path}." if quarantined else "")
    except ValueError as error:
        kept = os.path.join(uri.rstrip("/") + features.STOPPED_SUFFIX, QUARANTINE_FILE)
        tf.io.gfile.makedirs(os.path.dirname(kept))
        tf.io.gfile.copy(report_path, kept, overwrite=True)
        raise type(error)(str(error).replace(report_path, kept)) from None


def _read_notes(prefix: str) -> Tuple[List[Quarantined], List[Dict[str, str]], Dict[str, int]]:
    """The Beam job's notes (sorted by path) and short-side histogram; the notes folder is then removed."""
    notes = {}
    for kind in (_QUARANTINED, _CONVERTED, _SHORT_SIDES):
        rows = []
        for path in tf.io.gfile.glob(f"{prefix}-{kind}*"):
            with tf.io.gfile.GFile(path) as f:
                rows += [json.loads(line) for line in f if line.strip()]
        notes[kind] = rows
    tf.io.gfile.rmtree(os.path.dirname(prefix))
    histogram = {str(row["side"]): row["count"] for row in sorted(notes[_SHORT_SIDES], key=lambda r: r["side"])}
    return ([Quarantined(**row) for row in sorted(notes[_QUARANTINED], key=lambda r: r["path"])],
            sorted(notes[_CONVERTED], key=lambda r: r["path"]), histogram)


def _golden_facts(golden: Optional[FolderScan], notes_prefix: str,
                  exec_properties: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The manifest's `golden` entry: the folder, images ingested per class, and any files set aside."""
    if golden is None:
        return None
    quarantined, converted, _ = _read_notes(notes_prefix)
    counts = ingested_counts(golden.class_names, golden.class_counts(), quarantined)
    return {"dir": settings_from_exec_properties(exec_properties).golden_dir, "class_counts": counts,
            "num_examples": sum(counts.values()), "quarantined": [q.to_dict() for q in quarantined],
            "converted": list(converted)}
