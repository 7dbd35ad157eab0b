"""The evaluation gate: exact McNemar by hand, the verdict's words, and the real Evaluator on real SavedModels.

The Evaluator cases run TFX's Evaluator executor (ours) with TFMA on Beam's
DirectRunner over real TFRecords, with "scripted" SavedModels: each looks the
image's path up in a table and answers the class the test planted, so every
case knows exactly which images each model gets right.
"""
import os
import shutil

import apache_beam as beam
import pytest
import tensorflow as tf

from components.evaluator.paired import (ClassCounts, GateRules, PairedCounts, class_failures, judge,
                                         mcnemar_p_worse)
from schemas import features
from schemas.config import build_config

RULES = GateRules(min_accuracy=0.8, confidence=0.95, max_class_recall_drop=0.2, min_class_recall=0.5)


# ------------------------------------------------------------------ exact McNemar, by hand

@pytest.mark.parametrize("better, worse, expected", [
    (0, 0, 1.0),             # no image differs: nothing says worse
    (3, 0, 1.0),             # P(X >= 0)
    (0, 5, 1 / 32),          # C(5,5) / 2^5
    (1, 6, 8 / 128),         # (C(7,6) + C(7,7)) / 2^7
    (2, 2, 11 / 16),         # (C(4,2) + C(4,3) + C(4,4)) / 2^4
    (1, 9, 11 / 1024),       # (C(10,9) + C(10,10)) / 2^10
    (5, 15, 21700 / 1048576),  # sum_{k=15..20} C(20,k) = 15504+4845+1140+190+20+1
])
def test_exact_mcnemar_p_values_match_hand_computed_ones(better, worse, expected):
    assert mcnemar_p_worse(better, worse) == pytest.approx(expected, rel=1e-12)


def counts(images, cand, base, better, worse, classes=None, has_baseline=True):
    return PairedCounts(has_baseline, images, cand, base, better, worse,
                        {k: ClassCounts(*v) for k, v in (classes or {}).items()})


def test_the_example_sentence_of_the_issue_is_what_the_gate_prints():
    c = counts(1412, 1358, 1355, 17, 14, {"a": (706, 680, 678), "b": (706, 678, 677)})
    verdict = judge(c, RULES)
    assert verdict.blessed and verdict.reasons == []
    assert verdict.sentence == ("candidate 0.962 vs served 0.960 on 1,412 test images; 31 images differ "
                                "(17 better, 14 worse); not worse at 95% confidence: blessed")


def test_one_image_does_not_decide_but_a_consistent_loss_does():
    one = judge(counts(52, 51, 52, 0, 1), RULES)  # the issue's 0.9808 vs 1.0
    assert one.blessed, one.sentence
    many = judge(counts(52, 45, 51, 0, 6), RULES)  # p = 1/64
    assert not many.blessed
    assert many.reasons == ["worse than the served model at 95% confidence (exact McNemar p=0.0156)"]
    assert many.sentence.endswith("worse at 95% confidence (exact McNemar p=0.0156): not blessed")


def test_first_run_is_judged_by_the_floors_alone_and_says_so():
    blessed = judge(counts(40, 36, 0, 0, 0, has_baseline=False), RULES)  # docs/evaluation-gate.md quotes it
    assert blessed.blessed
    assert blessed.sentence == ("candidate 0.900 on 40 test images; no served model yet, so the floors "
                                "alone decide (eval.min_accuracy=0.8): blessed")
    low = judge(counts(40, 30, 0, 0, 0, has_baseline=False), RULES)
    assert low.sentence.endswith(", but accuracy 0.750 is below eval.min_accuracy=0.8: not blessed")


def test_a_class_that_falls_too_far_or_below_the_floor_is_named_even_when_the_total_improves():
    c = counts(60, 55, 50, 9, 4, {"cat": (20, 20, 15, 5, 0), "dog": (20, 20, 15, 5, 0), "owl": (20, 15, 20, 0, 5)})
    verdict = judge(c, RULES)
    assert not verdict.blessed
    assert verdict.reasons == ["class owl recall fell 1.000 -> 0.750 against the served model (5 worse, 0 better; "
                               "exact McNemar p=0.0312), more than eval.max_class_recall_drop=0.2"]
    assert verdict.sentence.startswith("candidate 0.917 vs served 0.833 on 60 test images; 13 images differ "
                                       "(9 better, 4 worse); not worse at 95% confidence, but class owl")
    first = counts(60, 49, 0, 0, 0, {"cat": (20, 20, 0), "dog": (20, 20, 0), "owl": (20, 9, 0)},
                   has_baseline=False)
    assert class_failures(first, RULES) == [
        "class owl recall 0.450 is below eval.min_class_recall=0.5 (9/20 test images)"]


def test_one_image_in_a_small_class_is_not_a_collapse():
    c = counts(40, 37, 37, 1, 1, {"cat": (36, 36, 35, 1, 0), "owl": (4, 3, 4, 0, 1)})  # owl 1.0 -> 0.75
    assert class_failures(c, RULES) == [] and judge(c, RULES).blessed


# ------------------------------------------------------------------ the real Evaluator on scripted SavedModels

CLASSES = ["cat", "dog", "owl"]
PER_CLASS = 12  # 36 test images: above the default floors (30 images, 3 per class)


def planted_paths():
    return [f"{name}/{i:02d}.png" for name in CLASSES for i in range(PER_CLASS)]


def label_of(path: str) -> int:
    return CLASSES.index(path.split("/")[0])


def answers(wrong: dict) -> dict:
    """{path: predicted class}: right everywhere but `wrong` ({class: how many of its images are missed})."""
    result = {}
    for path in planted_paths():
        name, index = path.split("/")[0], int(path.split("/")[1][:2])
        truth = label_of(path)
        result[path] = (truth + 1) % len(CLASSES) if index < wrong.get(name, 0) else truth
    return result


class Scripted(tf.Module):
    """A SavedModel with the real serving contract (serialized tf.Examples in, probabilities out)."""

    def __init__(self, predicted: dict):
        super().__init__()
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            list(predicted), tf.constant(list(predicted.values()), tf.int64)), default_value=0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {features.PATH_KEY: tf.io.FixedLenFeature([], tf.string)})
        class_id = self.table.lookup(parsed[features.PATH_KEY])
        # Several outputs, as the real model has: the gate must pick `probabilities` by the ModelSpec.
        return {features.CLASS_ID_OUTPUT: class_id,
                features.PROBABILITIES_OUTPUT: tf.one_hot(class_id, len(CLASSES))}


def model_artifact(root, name: str, predicted: dict = None):
    from tfx.types import standard_artifacts
    from tfx.utils import path_utils
    artifact = standard_artifacts.Model()
    artifact.uri = str(root / name)
    os.makedirs(artifact.uri, exist_ok=True)
    if predicted is not None:
        module = Scripted(predicted)
        tf.saved_model.save(module, path_utils.serving_model_path(artifact.uri),
                            signatures={features.EXAMPLES_SIGNATURE: module.serve.get_concrete_function()})
    return artifact


@pytest.fixture(scope="module")
def test_examples(tmp_path_factory):
    """An Examples artifact whose test split holds 36 real tf.Examples (GZIP TFRecords, as ExampleGen writes)."""
    from tfx.types import artifact_utils, standard_artifacts
    root = tmp_path_factory.mktemp("examples")
    (root / "Split-test").mkdir()
    with tf.io.TFRecordWriter(str(root / "Split-test" / "data_tfrecord-00000-of-00001.gz"), "GZIP") as w:
        for path in planted_paths():
            feature = {features.IMAGE_KEY: [b"\x89PNG"], features.PATH_KEY: [path.encode()],
                       features.LABEL_NAME_KEY: [path.split("/")[0].encode()]}
            example = tf.train.Example(features=tf.train.Features(feature={
                k: tf.train.Feature(bytes_list=tf.train.BytesList(value=v)) for k, v in feature.items()}))
            example.features.feature[features.LABEL_KEY].int64_list.value.append(label_of(path))
            w.write(example.SerializeToString())
    examples = standard_artifacts.Examples()
    examples.uri = str(root)
    examples.split_names = artifact_utils.encode_split_names(["train", "validation", "test"])
    return examples


def evaluate(tmp_path, examples, candidate: dict, served: dict = None, overrides=()):
    """Run our Evaluator executor as a pipeline would; return (blessing artifact, GateResult)."""
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils
    from components.evaluator.component import make_eval_config
    from components.evaluator.executor import Executor
    from components.evaluator.metrics import read_gate

    cfg = build_config(overrides=list(overrides))
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(tmp_path / "evaluation"), str(tmp_path / "blessing")
    os.makedirs(blessing.uri)
    inputs = {"examples": [examples], "model": [model_artifact(tmp_path, "candidate", candidate)],
              "baseline_model": [model_artifact(tmp_path, "baseline", served)]}
    exec_properties = {"eval_config": proto_utils.proto_to_json(make_eval_config(cfg.eval)),
                       "example_splits": json_utils.dumps(["test"])}
    context = Executor.Context(make_beam_pipeline_fn=lambda: beam.Pipeline(
        argv=["--direct_running_mode=in_memory", "--direct_num_workers=1"]))
    Executor(context).Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]}, exec_properties)
    return blessing, read_gate(evaluation.uri)


def blessed(blessing) -> bool:
    return blessing.get_int_custom_property("blessed") == 1 and os.path.exists(os.path.join(blessing.uri, "BLESSED"))


def test_first_run_without_a_served_model_is_judged_by_the_floor(tmp_path, test_examples):
    blessing, gate = evaluate(tmp_path, test_examples, answers({"cat": 2}))
    assert blessed(blessing)
    assert (gate.counts.images, gate.counts.candidate_correct, gate.counts.has_baseline) == (36, 34, False)
    assert gate.baseline_accuracy is None and gate.class_recall["cat"] == pytest.approx(10 / 12)
    assert "no served model yet" in gate.verdict.sentence and gate.verdict.sentence.endswith(": blessed")


def test_a_better_candidate_is_blessed_over_the_served_model(tmp_path, test_examples):
    blessing, gate = evaluate(tmp_path, test_examples, answers({"cat": 1}), served=answers({"cat": 3, "dog": 3}))
    assert blessed(blessing)
    c = gate.counts
    assert (c.images, c.candidate_correct, c.baseline_correct, c.better, c.worse) == (36, 35, 30, 5, 0)
    assert gate.verdict.sentence == ("candidate 0.972 vs served 0.833 on 36 test images; 5 images differ "
                                     "(5 better, 0 worse); not worse at 95% confidence: blessed")


def test_a_clearly_worse_candidate_is_not_blessed(tmp_path, test_examples):
    blessing, gate = evaluate(tmp_path, test_examples, answers({"cat": 2, "dog": 2, "owl": 2}),
                              served=answers({}), overrides=["eval.max_class_recall_drop=1"])
    assert not blessed(blessing) and os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert (gate.counts.better, gate.counts.worse) == (0, 6)
    assert gate.verdict.reasons == ["worse than the served model at 95% confidence (exact McNemar p=0.0156)"]
    assert gate.accuracy == pytest.approx(30 / 36)  # above the 0.8 floor: the paired test decides
    assert gate.verdict.sentence == ("candidate 0.833 vs served 1.000 on 36 test images; 6 images differ (0 better, "
                                     "6 worse); worse at 95% confidence (exact McNemar p=0.0156): not blessed")


def test_a_candidate_whose_single_class_collapses_is_not_blessed_and_the_class_is_named(tmp_path, test_examples):
    served = {**answers({}), **{p: (label_of(p) + 1) % 3 for p in planted_paths() if p.startswith(("cat", "dog"))
                                and int(p[4:6]) < 6}}
    blessing, gate = evaluate(tmp_path, test_examples, answers({"owl": 6}), served=served)
    assert not blessed(blessing)
    assert gate.accuracy == pytest.approx(30 / 36) and gate.baseline_accuracy == pytest.approx(24 / 36)
    assert gate.verdict.reasons == ["class owl recall fell 1.000 -> 0.500 against the served model (6 worse, "
                                    "0 better; exact McNemar p=0.0156), more than eval.max_class_recall_drop=0.2"]
    assert gate.verdict.sentence == (
        "candidate 0.833 vs served 0.667 on 36 test images; 18 images differ (12 better, 6 worse); not worse at "
        "95% confidence, but class owl recall fell 1.000 -> 0.500 against the served model (6 worse, 0 better; "
        "exact McNemar p=0.0156), more than eval.max_class_recall_drop=0.2: not blessed")


def test_a_forced_push_is_blessed_and_keeps_the_gate_verdict_and_the_reason(tmp_path, test_examples):
    reason = "baseline trained on mislabeled data"
    blessing, gate = evaluate(tmp_path, test_examples, answers({"cat": 2, "dog": 2, "owl": 2}), served=answers({}),
                              overrides=["eval.force_bless=true", f"eval.force_reason={reason}"])
    assert blessed(blessing) and not os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert blessing.get_int_custom_property("gate_blessed") == 0
    assert blessing.get_int_custom_property("forced_bless") == 1
    assert blessing.get_string_custom_property("force_reason") == reason
    assert not gate.verdict.blessed  # the metrics keep the gate's own verdict


def test_the_force_reason_is_found_in_the_eval_config_whichever_json_style_carries_it():
    from google.protobuf import json_format
    from components.evaluator.component import make_eval_config
    from components.evaluator.executor import force_reason
    reason = "served model trained on mislabeled data"
    config = make_eval_config(build_config(overrides=["eval.force_bless=true", f"eval.force_reason={reason}"]).eval)
    assert force_reason(json_format.MessageToJson(config, preserving_proto_field_name=True)) == reason
    assert force_reason(json_format.MessageToJson(config)) == reason  # camelCase, as a KFP spec may hold it
    unforced = build_config(overrides=[f"eval.force_reason={reason}"]).eval  # a reason alone forces nothing
    assert force_reason(json_format.MessageToJson(make_eval_config(unforced))) == ""


# ------------------------------------------------------------------ the one allowed skip (components/evaluator/reuse.py)

def judge_in_run(root, run: str, examples, candidate, baseline=None, overrides=()):
    """Our Evaluator executor as run `run` of a local pipeline would call it: outputs under
    <root>/evaluation/<run>, beside the earlier runs'."""
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils
    from components.evaluator.component import make_eval_config
    from components.evaluator.executor import Executor

    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(root / "evaluation" / run), str(root / "blessing" / run)
    os.makedirs(blessing.uri)
    inputs = {"examples": [examples], "model": [candidate]} | ({"baseline_model": [baseline]} if baseline else {})
    eval_config = make_eval_config(build_config(overrides=list(overrides)).eval)
    exec_properties = {"eval_config": proto_utils.proto_to_json(eval_config), "example_splits": json_utils.dumps(["test"])}
    context = Executor.Context(make_beam_pipeline_fn=lambda: beam.Pipeline(
        argv=["--direct_running_mode=in_memory", "--direct_num_workers=1"]), pipeline_run_id=run)
    Executor(context).Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]}, exec_properties)
    reused = evaluation.get_string_custom_property("reused_from_run") if evaluation.has_custom_property(
        "reused_from_run") else None
    return reused, blessing, evaluation


def copied_model(root, source, name: str):
    """The served model as ServedModelBaseline leaves it: a byte-for-byte copy of `source`'s files."""
    from tfx.types import standard_artifacts
    artifact = standard_artifacts.Model()
    artifact.uri = str(root / name)
    shutil.copytree(source.uri, artifact.uri)
    return artifact


def examples_without_one(root, examples):
    """The same test split less its last image: another examples artifact."""
    from tfx.types import standard_artifacts
    records = list(tf.data.TFRecordDataset(tf.io.gfile.glob(f"{examples.uri}/Split-test/*.gz"), "GZIP"))
    (root / "fewer" / "Split-test").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(root / "fewer" / "Split-test" / "data_tfrecord-00000-of-00001.gz"), "GZIP") as w:
        for r in records[:-1]:
            w.write(r.numpy())
    fewer = standard_artifacts.Examples()
    fewer.uri, fewer.split_names = str(root / "fewer"), examples.split_names
    return fewer


def test_a_candidate_identical_to_the_served_model_takes_its_earlier_verdict_until_images_settings_or_model_change(
        tmp_path, test_examples):
    candidate = model_artifact(tmp_path, "candidate", answers({"cat": 2}))
    served = copied_model(tmp_path, candidate, "served")
    reused, first, first_eval = judge_in_run(tmp_path, "run-1", test_examples, candidate)  # nothing served yet
    assert reused is None and blessed(first)
    reused, again, evaluation = judge_in_run(tmp_path, "run-2", test_examples, candidate, served)
    assert reused == "run-1" and blessed(again)  # TFMA's outputs of run 1, copied
    assert evaluation.get_string_custom_property("reused_from_evaluation") == first_eval.uri
    assert again.get_string_custom_property("current_model") == candidate.uri
    assert again.get_string_custom_property("baseline_model") == served.uri
    from components.evaluator.metrics import read_gate
    assert read_gate(evaluation.uri).counts == read_gate(first_eval.uri).counts
    assert evaluation.get_float_custom_property("test_accuracy") == pytest.approx(34 / 36)
    assert judge_in_run(tmp_path, "run-3", test_examples, candidate, served)[0] == "run-1"  # still the first judgment
    # Any of the three changed: TFMA judges again.
    assert judge_in_run(tmp_path, "run-4", test_examples, candidate, served, ["eval.min_accuracy=0.99"])[0] is None
    reused, blessing, evaluation = judge_in_run(tmp_path, "run-5", examples_without_one(tmp_path, test_examples),
                                                candidate, served)
    assert reused is None and read_gate(evaluation.uri).counts.images == 35
    other = model_artifact(tmp_path, "other", answers({}))
    reused, blessing, evaluation = judge_in_run(tmp_path, "run-6", test_examples, candidate, other)
    assert reused is None and read_gate(evaluation.uri).counts.has_baseline
    assert not os.path.exists(os.path.join(evaluation.uri, "reuse.json"))  # a real comparison: never reused
    # A failed threshold reused is still a failed threshold.
    reused, blessing, _ = judge_in_run(tmp_path, "run-7", test_examples, candidate, served, ["eval.min_accuracy=0.99"])
    assert reused == "run-4" and not blessed(blessing) and os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    for run in ("run-4", "run-7"):  # outputs cleaned up: nothing left to reuse
        shutil.rmtree(tmp_path / "blessing" / run)
    assert judge_in_run(tmp_path, "run-8", test_examples, candidate, served, ["eval.min_accuracy=0.99"])[0] is None
