"""Image-aware validation, check by check, on small generated images and facts (no pipeline)."""
import io
import json
import random

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from PIL import Image

from components.image_validation import checks, drift, leakage, reference
from components.image_validation.extract import extract_facts, read_facts
from components.image_validation.facts import ImageFacts, image_facts
from components.image_validation.report import read_report, write_report
from components.image_validation.validate import validate_images
from schemas import features
from schemas.config import ConfigError, ValidationConfig, build_config

LIMITS = {"min_images_per_class": 3, "max_imbalance_ratio": 2.0, "min_image_side": 16,
          "near_duplicate_hamming": 4, "near_duplicate_min_similarity": 0.85, "near_duplicate_ratio": 0.2,
          "leakage_is_error": False,
          "class_drift_threshold": 0.1, "size_drift_threshold": 0.1,
          "min_test_images": 0, "min_test_per_class": 0, "small_test_split": "warn"}


def settings_from(values):
    from components.image_validation.spec import ImageValidationSettings
    return ImageValidationSettings(**values)


def settings(**overrides):
    """The checks' settings: LIMITS, with `overrides`."""
    return settings_from({**LIMITS, **overrides})


def encode(array: np.ndarray, fmt: str = "PNG", mode: str = None, **kwargs) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def noise(seed: int, size=(24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3)).astype(np.uint8)


def smooth(seed: int, size=(48, 48)) -> np.ndarray:
    """A smooth picture (gradients): re-encoding changes its pixels a little, its structure not."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]] / size[0]
    channels = [np.sin(rng.uniform(1, 6) * x + rng.uniform(1, 6) * y + rng.uniform(0, 3)) for _ in range(3)]
    return ((np.stack(channels, -1) + 1) * 127).astype(np.uint8)


def example(encoded: bytes, label_name: str = "cat", path: str = "cat/a.png") -> bytes:
    def feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: feature(encoded), features.LABEL_NAME_KEY: feature(label_name.encode()),
        features.PATH_KEY: feature(path.encode())})).SerializeToString()


def thumb(seed) -> str:
    """A random 8x8 grey thumbnail, as ImageFacts stores it: a picture no other seed resembles."""
    import base64
    return base64.b64encode(random.Random(seed).randbytes(64)).decode()


def fact(split="train", label="cat", path=None, width=32, height=32, dhash=None, sha=None, mode="RGB",
         picture=None):
    dhash = random.Random(path).getrandbits(64) if dhash is None else dhash
    return ImageFacts(split=split, path=path or f"{label}/{random.random()}", label_name=label, width=width,
                      height=height, mode=mode, channels=Image.getmodebands(mode),
                      sha256=sha or f"sha-{path}", dhash=dhash, thumb=thumb(path if picture is None else picture))


def facts_for(counts, split="train"):
    return [fact(split, label, f"{split}/{label}/{i}") for label, n in counts.items() for i in range(n)]


# ------------------------------------------------------------------ per-image facts

@pytest.mark.parametrize("fmt,mode,kwargs,channels", [
    ("PNG", None, {}, 3), ("PNG", "L", {}, 1), ("PNG", "RGBA", {}, 4), ("PNG", "P", {}, 1),
    ("JPEG", None, {}, 3), ("JPEG", "CMYK", {}, 4), ("GIF", "P", {}, 1), ("BMP", None, {}, 3),
])
def test_facts_give_size_stored_mode_and_channels_without_a_full_decode(fmt, mode, kwargs, channels):
    encoded = encode(noise(1), fmt, mode, **kwargs)
    f = image_facts(example(encoded, "dog", "dog/x"), "eval")
    assert (f.split, f.path, f.label_name, f.width, f.height, f.channels) == ("eval", "dog/x", "dog", 32, 24, channels)
    assert f.mode == (mode or "RGB") and 0 <= f.dhash < 2 ** 64
    assert f.sha256 == __import__("hashlib").sha256(encoded).hexdigest()


def test_a_facts_line_is_what_dataclasses_asdict_gives_and_reads_back_equal():
    """`to_dict` builds the JSON line field by field (asdict's deep copy cost more than the facts at 32 px)."""
    import dataclasses
    f = image_facts(example(encode(noise(1), "JPEG"), "dog", "dog/x"), "eval")
    for facts in (f, dataclasses.replace(fact(), chroma=(0.0, 0.0, 0.0))):
        line = json.dumps(facts.to_dict())
        assert line == json.dumps(dataclasses.asdict(facts))
        assert ImageFacts(**json.loads(line)).to_dict() == json.loads(line)
    assert f.to_dict()["chroma"] is not f.chroma  # a copy: the line's list cannot change the facts


def test_dhash_matches_a_reencoded_resized_copy_and_separates_different_pictures():
    original = image_facts(example(encode(smooth(3), "PNG")), "train")
    copy = image_facts(example(encode(np.array(Image.fromarray(smooth(3)).resize((40, 40))), "JPEG",
                                      quality=70)), "eval")
    others = [image_facts(example(encode(smooth(seed), "PNG")), "eval") for seed in range(10, 20)]
    assert original.sha256 != copy.sha256
    assert bin(original.dhash ^ copy.dhash).count("1") <= 4
    assert min(bin(original.dhash ^ o.dhash).count("1") for o in others) > 4


@pytest.mark.parametrize("bits", [8, 16])
def test_dhash_bits_are_the_row_by_row_comparisons_of_a_9x8_box_thumbnail_and_chroma_the_exact_means(bits):
    """The definitions, written out pixel by pixel: the vectorised code must give the same numbers."""
    from components.image_validation.facts import _grayscale, chroma, dhash
    picture = smooth(7)
    image = Image.fromarray(picture) if bits == 8 else Image.fromarray(picture[..., 0].astype(np.uint16) * 257)
    thumb = list(_grayscale(image).resize((9, 8), Image.Resampling.BOX).getdata())
    expected = 0
    for row in range(8):
        for col in range(8):
            expected = (expected << 1) | int(thumb[row * 9 + col] > thumb[row * 9 + col + 1])
    assert dhash(image) == expected
    if bits == 8:
        means = [sum(int(v) for v in picture[..., c].ravel()) / picture[..., 0].size for c in range(3)]
        assert chroma(image) == [round(m - sum(means) / 3, 2) for m in means]


@pytest.mark.parametrize("fmt,mode", [("PNG", None), ("PNG", "L"), ("PNG", "RGBA"), ("JPEG", None)])
def test_the_tensorflow_fallback_agrees_with_pillow(fmt, mode):
    from components.image_validation.facts import _pillow_facts, _tensorflow_facts
    encoded = encode(smooth(5), fmt, mode)
    by_pillow, by_tf = _pillow_facts(encoded), _tensorflow_facts(encoded)
    assert by_pillow[:3] == by_tf[:3]
    assert bin(by_pillow[3] ^ by_tf[3]).count("1") <= 4


def test_dhash_of_16_bit_images_keeps_the_picture():
    pictures = [smooth(seed)[..., 0].astype(np.uint16) * 257 for seed in (3, 4)]
    sixteen = [image_facts(example(encode(p, "PNG")), "train") for p in pictures]
    eight = image_facts(example(encode((pictures[0] // 257).astype(np.uint8), "PNG")), "eval")
    assert sixteen[0].mode.startswith("I;16") and eight.mode == "L"
    assert bin(sixteen[0].dhash ^ eight.dhash).count("1") <= 2
    assert bin(sixteen[0].dhash ^ sixteen[1].dhash).count("1") > 4


# ------------------------------------------------------------------ class counts

def test_class_counts_per_split_and_overall():
    counts = checks.class_counts(facts_for({"cat": 3, "dog": 2}) + facts_for({"cat": 1}, "test"))
    assert counts == {"all": {"cat": 4, "dog": 2}, "test": {"cat": 1}, "train": {"cat": 3, "dog": 2}}


def test_a_class_below_the_minimum_blocks_and_names_the_class():
    counts = checks.class_counts(facts_for({"cat": 5, "dog": 2}) + facts_for({"cat": 1, "dog": 1}, "validation")
                                 + facts_for({"cat": 1, "dog": 1}, "test"))
    (finding,) = checks.check_class_counts(counts, min_images_per_class=5, max_imbalance_ratio=10)
    assert finding.check == "min_images_per_class" and finding.severity == checks.BLOCKING
    assert "dog (4)" in finding.message and "cat" not in finding.message.split(";")[0]


def test_imbalance_above_the_ratio_blocks_with_the_measured_ratio():
    counts = checks.class_counts(facts_for({"cat": 8, "dog": 2}) + facts_for({"cat": 1, "dog": 1}, "validation")
                                 + facts_for({"cat": 1, "dog": 1}, "test"))
    (finding,) = checks.check_class_counts(counts, 1, max_imbalance_ratio=2.0)
    assert finding.check == "class_imbalance" and finding.severity == checks.BLOCKING
    assert "2.50" in finding.message and "cat: 10" in finding.message and "dog: 4" in finding.message
    assert checks.check_class_counts(counts, 1, max_imbalance_ratio=2.5) == []


def test_a_class_with_no_test_images_is_a_warning():
    counts = checks.class_counts(facts_for({"cat": 4, "dog": 4}) + facts_for({"cat": 1, "dog": 1}, "validation")
                                 + facts_for({"cat": 1}, "test"))
    (finding,) = checks.check_class_counts(counts, 1, 10)
    assert (finding.check, finding.severity) == ("class_missing_from_split", checks.WARNING)
    assert "dog" in finding.message and "test split" in finding.message


def test_a_small_test_split_is_said_plainly_and_blocks_only_when_configured_to():
    counts = checks.class_counts(facts_for({"cat": 20, "dog": 20}) + facts_for({"cat": 12, "dog": 2}, "test"))
    (warning,) = checks.check_test_split(counts, min_test_images=30, min_test_per_class=3, small_test_split="warn")
    assert (warning.check, warning.severity) == ("small_test_split", checks.WARNING)
    assert "14 image(s), below eval.min_test_images=30" in warning.message
    assert "dog (2)" in warning.message and "cat" not in warning.message.split("min_test_per_class")[1]
    assert "7.1 points of accuracy" in warning.message
    (blocking,) = checks.check_test_split(counts, 10, 3, "fail")
    assert blocking.severity == checks.BLOCKING and "eval.min_test_images" not in blocking.message
    assert checks.check_test_split(counts, 14, 2, "fail") == []


# ------------------------------------------------------------------ geometry

def test_geometry_distributions_and_small_images():
    facts = [fact(width=64, height=32, path="a"), fact(width=10, height=40, path="b", mode="L"),
             fact(width=32, height=32, path="c", mode="RGBA")]
    geo = checks.geometry(facts)
    assert geo["width"]["min"] == 10 and geo["width"]["max"] == 64 and geo["width"]["median"] == 32
    assert geo["aspect"]["max"] == 2.0 and geo["aspect"]["min"] == 0.25
    assert geo["modes"] == {"L": 1, "RGB": 1, "RGBA": 1} and geo["channels"] == {"1": 1, "3": 1, "4": 1}
    (finding,), small = checks.check_small_images(facts, min_image_side=16)
    assert small == ["b"] and finding.severity == checks.WARNING and "1 of 3" in finding.message
    assert checks.check_small_images(facts, min_image_side=10) == ([], [])


# ------------------------------------------------------------------ class set

def test_a_new_class_and_a_vanished_class_are_blocking():
    findings = checks.check_class_set(["cat", "dog", "fox"], ["cat", "dog", "owl"], "the curated schema")
    assert [(f.check, f.severity) for f in findings] == [
        ("unexpected_class", checks.BLOCKING), ("vanished_class", checks.BLOCKING)]
    assert "fox" in findings[0].message and "owl" in findings[1].message
    assert "the curated schema" in findings[0].message
    assert checks.check_class_set(["cat", "dog"], ["dog", "cat"], "x") == []
    assert checks.check_class_set(["cat"], None, "") == []  # first run: nothing to compare with


# ------------------------------------------------------------------ leakage

NEAR = (ValidationConfig().near_duplicate_min_similarity, ValidationConfig().near_duplicate_ratio)  # the defaults

def test_exact_and_near_duplicates_across_splits_are_found_and_same_split_copies_are_not():
    a, b, c, d = 0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x0F0F0F0F0F0F0F0F, 0xF0F0F0F0F0F0F0F0
    facts = [fact("train", path="t1", sha="same", dhash=a), fact("validation", path="e1", sha="same", dhash=a),
             fact("train", path="t2", dhash=b), fact("test", path="e2", dhash=b ^ 0b10101, picture="t2"),
             fact("train", path="t3", dhash=c), fact("test", path="e3", dhash=c),   # same dHash, other picture
             fact("train", path="t4", sha="twin", dhash=d), fact("train", path="t5", sha="twin", dhash=d)]
    leaks = leakage.find_leaks(facts, 4, *NEAR)
    assert [(x.train_path, x.held_out_path, x.kind, x.distance, x.similarity) for x in leaks] == [
        ("t1", "e1", "exact", 0, 1.0), ("t2", "e2", "near", 3, pytest.approx(1.0))]
    (warning,) = leakage.check_leakage(leaks, *NEAR, is_error=False)
    assert warning.severity == checks.WARNING and "2 held-out (validation/test) image(s)" in warning.message
    assert "1 identical pair(s), 1 near-duplicate pair(s)" in warning.message
    assert "validation.near_duplicate_min_similarity=0.85" in warning.message
    assert "validation.near_duplicate_ratio=0.2" in warning.message
    assert leakage.check_leakage(leaks, *NEAR, is_error=True)[0].severity == checks.BLOCKING
    assert leakage.check_leakage([], *NEAR, is_error=True) == []


@pytest.mark.parametrize("max_distance", [0, 4, 9])
def test_banded_dhash_candidate_search_finds_what_brute_force_finds(max_distance):
    """Beyond ALL_PAIRS_BUDGET candidates come from the dHash bands (here forced with a budget of 0)."""
    rng = random.Random(max_distance)
    train = [fact("train", path=f"t{i}", dhash=rng.getrandbits(64)) for i in range(300)]
    eval_ = [fact("test", path=f"e{i}", dhash=train[i].dhash ^ sum(1 << b for b in rng.sample(range(64), i % 12)))
             for i in range(100)] + [fact("test", path=f"r{i}", dhash=rng.getrandbits(64)) for i in range(100)]
    brute = {(t.path, e.path) for t in train for e in eval_ if bin(t.dhash ^ e.dhash).count("1") <= max_distance}
    found = leakage.dhash_candidates(train, eval_, max_distance)
    assert {(t.path, e.path) for t, e, _ in found} == brute
    assert len(brute) >= 8  # the planted pairs are found, not only trivially empty sets


def sklearn_digit_pngs(count: int):
    """Real handwriting: scikit-learn's 8x8 digits as grey PNGs, dark ink on white."""
    from sklearn.datasets import load_digits
    images = load_digits().images[:count]
    return [Image.fromarray((255 - np.round(p * 255 / 16)).astype(np.uint8), mode="L") for p in images]


def png_bytes(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_distinct_handwritten_digits_are_not_paired_though_their_dhashes_collide():
    digits = sklearn_digit_pngs(400)
    facts = [image_facts(example(png_bytes(d), "d", f"d/{i}"), "train" if i % 2 else "test")
             for i, d in enumerate(digits)]
    train, eval_ = [f for f in facts if f.split == "train"], [f for f in facts if f.split == "test"]
    collisions = list(leakage.dhash_candidates(train, eval_, 4))
    assert len(collisions) > 100  # what the dHash alone used to report
    assert leakage.find_leaks(facts, 4, *NEAR) == []
    assert leakage.near_leaks(train, eval_, 4, *NEAR, all_pairs_budget=0) == []  # from dHash candidates too


def test_reencoded_resized_and_recoloured_copies_of_digits_are_found_with_their_original():
    digits = sklearn_digit_pngs(120)
    copies = {
        "jpeg": lambda d: png_bytes(d.convert("RGB"), "JPEG", quality=75),
        "x4": lambda d: png_bytes(d.resize((32, 32), Image.Resampling.BICUBIC)),
        "brighter": lambda d: png_bytes(Image.fromarray(np.clip(np.asarray(d, np.int16) + 25, 0, 255).astype(np.uint8))),
    }
    facts = [image_facts(example(png_bytes(d), "d", f"d/{i}"), "train") for i, d in enumerate(digits)]
    facts += [image_facts(example(make(digits[i]), "d", f"d/{i}~{kind}"), "test")
              for i in range(0, 120, 6) for kind, make in copies.items()]
    leaks = leakage.find_leaks(facts, 4, *NEAR)
    assert {(x.train_path, x.held_out_path) for x in leaks} == {
        (f"d/{i}", f"d/{i}~{kind}") for i in range(0, 120, 6) for kind in copies}


# ------------------------------------------------------------------ drift (TFDV comparators)

def stats(labels, sizes):
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({
        features.LABEL_NAME_KEY: labels, features.WIDTH_KEY: sizes, features.HEIGHT_KEY: sizes}))


def test_drift_beyond_the_thresholds_is_blocking_and_every_distance_is_reported():
    previous = stats(["cat"] * 50 + ["dog"] * 50, [32] * 100)
    same = stats(["cat"] * 48 + ["dog"] * 52, [32] * 100)
    findings, measured = drift.compare(same, previous, class_threshold=0.1, size_threshold=0.1)
    assert findings == [] and measured[features.LABEL_NAME_KEY]["value"] == pytest.approx(0.02)
    shifted = stats(["cat"] * 80 + ["dog"] * 20, list(range(100, 200)))
    findings, measured = drift.compare(shifted, previous, class_threshold=0.1, size_threshold=0.1)
    assert sorted((f.check, f.severity) for f in findings) == [
        ("class_drift", "blocking"), ("size_drift", "blocking"), ("size_drift", "blocking")]
    assert measured[features.LABEL_NAME_KEY] == {"measure": "l_infty", "value": pytest.approx(0.3), "threshold": 0.1}
    assert measured[features.WIDTH_KEY]["measure"] == "jensen_shannon_divergence"
    assert "validation.class_drift_threshold" in " ".join(f.message for f in findings)


# ------------------------------------------------------------------ the whole decision, Beam extraction, report

def test_validate_images_reports_every_section_and_passes_clean_data():
    facts = (facts_for({"cat": 4, "dog": 4}) + facts_for({"cat": 1, "dog": 1}, "validation")
             + facts_for({"cat": 1, "dog": 1}, "test"))
    report = validate_images(facts, settings(), ["cat", "dog"], "the curated schema")
    assert report["status"] == "passed" and report["blocking"] == [] and report["warnings"] == []
    assert report["class_counts"]["train"] == {"cat": 4, "dog": 4} and report["imbalance_ratio"] == 1.0
    assert set(report["geometry"]) == {"train", "validation", "test"} and report["drift"]["compared"] is False
    blocked = validate_images(facts, settings(min_images_per_class=7), ["cat"], "the curated schema")
    assert blocked["status"] == "blocked"
    assert {f["check"] for f in blocked["blocking"]} == {"min_images_per_class", "unexpected_class"}


def test_beam_extraction_reads_gzip_tfrecords_of_every_split(tmp_path):
    examples = tmp_path / "examples"
    for split, seeds in (("train", range(3)), ("test", range(3, 5))):
        (examples / f"Split-{split}").mkdir(parents=True)
        with tf.io.TFRecordWriter(str(examples / f"Split-{split}" / "data.gz"), "GZIP") as w:
            for seed in seeds:
                w.write(example(encode(noise(seed)), "cat", f"cat/{seed}.png"))
    outputs = tmp_path / "ImageDataValidator" / "report"
    assert extract_facts(beam.Pipeline(), str(examples), ["train", "test"], str(outputs / "1")) == ""
    facts = read_facts(str(outputs / "1"))
    assert sorted((f.split, f.path) for f in facts) == [("test", "cat/3.png"), ("test", "cat/4.png"),
                                                        ("train", "cat/0.png"), ("train", "cat/1.png"),
                                                        ("train", "cat/2.png")]
    # A later execution on the same files takes these facts without Beam (a pipeline that fails if run)...
    assert extract_facts(FailingPipeline(), str(examples), ["train", "test"], str(outputs / "2")) == str(outputs / "1")
    assert read_facts(str(outputs / "2")) == facts
    # ...but reads again when a file of the artifact differs (an artifact's files are written once: its
    # listing, names and sizes, stands for them) or the split list does.
    with tf.io.TFRecordWriter(str(examples / "Split-test" / "data.gz"), "GZIP") as w:
        w.write(example(encode(noise(9)), "cat", "cat/9.png"))
    assert extract_facts(beam.Pipeline(), str(examples), ["train", "test"], str(outputs / "3")) == ""
    assert ("test", "cat/9.png") in {(f.split, f.path) for f in read_facts(str(outputs / "3"))}
    assert extract_facts(beam.Pipeline(), str(examples), ["train"], str(outputs / "4")) == ""


class FailingPipeline:
    def __enter__(self):
        raise AssertionError("Beam ran, though an earlier extraction of the same files was there to copy")

    def __exit__(self, *exc):
        return False


def test_the_report_and_the_reference_round_trip(tmp_path):
    report = validate_images(facts_for({"cat": 4, "dog": 4}), settings())
    path = write_report(str(tmp_path), report)
    assert read_report(str(tmp_path)) == json.loads(json.dumps(report))
    assert "Image validation: passed" in (tmp_path / "summary.txt").read_text()
    ref_dir = str(tmp_path / "ref")
    assert reference.read_reference(ref_dir) is None
    stats_file = tmp_path / "FeatureStats.pb"
    stats_file.write_bytes(b"stats")
    reference.write_reference(ref_dir, path, str(stats_file))
    assert reference.read_reference(ref_dir)["classes"] == ["cat", "dog"]
    assert open(reference.reference_statistics_path(ref_dir), "rb").read() == b"stats"
    reference.check_reachable(ref_dir)
    with pytest.raises(reference.ReferenceDirError, match="validation.reference_dir"):
        reference.check_reachable("minio://mlpipeline/imgpipe/reference")


def test_validation_config_feeds_every_setting_and_rejects_values_out_of_range():
    from components.image_validation.spec import ImageValidationSettings
    from schemas import carrier
    cfg = build_config(overrides=["data.min_images_per_class=7", "validation.leakage_is_error=true",
                                  "eval.small_test_split=fail"])
    settings = ImageValidationSettings.from_config(cfg)
    assert settings == settings_from({**LIMITS, "min_images_per_class": 7, "max_imbalance_ratio": 10.0,
                                      "min_image_side": 32, "min_test_images": 30, "min_test_per_class": 3,
                                      "leakage_is_error": True, "small_test_split": "fail"})
    assert carrier.from_json(ImageValidationSettings, carrier.to_json(settings)) == settings
    with pytest.raises(carrier.CarrierError, match="unknown .'max_imbalance'"):
        carrier.from_mapping(ImageValidationSettings, {**LIMITS, "max_imbalance": 2})
    with pytest.raises(ConfigError, match="validation.max_imbalance_ratio"):
        build_config(overrides=["validation.max_imbalance_ratio=0.5"])
    with pytest.raises(ConfigError, match="validation.size_drift_threshold"):
        build_config(overrides=["validation.size_drift_threshold=0"])


def test_expected_classes_come_from_the_curated_schema_else_from_the_reference(tmp_path):
    from tfx import v1 as tfx

    from components.image_validation.reference import expected_classes

    def schema_artifact(folder, text):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "schema.pbtxt").write_text(text)
        artifact = tfx.types.standard_artifacts.Schema()
        artifact.uri = str(tmp_path / folder)
        return artifact

    curated = schema_artifact("curated", 'feature { name: "label_name" type: BYTES domain: "label_name" }\n'
                                         'string_domain { name: "label_name" value: "cat" value: "dog" }\n')
    bare = schema_artifact("bare", 'feature { name: "label_name" type: BYTES }\n')
    previous = {"classes": ["cat", "owl"]}
    assert expected_classes(curated, previous, "/ref") == (["cat", "dog"], "the curated schema (label_name domain)")
    assert expected_classes(bare, previous, "/ref") == (["cat", "owl"], "the previous validated run (/ref)")
    assert expected_classes(None, None, "/ref") == (None, "")


def test_the_validator_modules_import_only_earlier_ones_in_the_flow():
    """spec -> facts -> extract -> checks -> leakage, drift -> report -> validate -> reference -> component."""
    import ast
    import os

    import components.image_validation as package
    flow = ["spec", "facts", "extract", "checks", "leakage", "drift", "report", "validate", "reference", "component"]
    folder = os.path.dirname(package.__file__)
    assert sorted(flow) == sorted(name[:-3] for name in os.listdir(folder)
                                  if name.endswith(".py") and name != "__init__.py")
    for position, module in enumerate(flow):
        with open(os.path.join(folder, f"{module}.py")) as f:
            tree = ast.parse(f.read())
        imported = {node.module.rsplit(".", 1)[1] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("components.image_validation.")}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.module == "components.image_validation" for alias in node.names}
        assert imported <= set(flow[:position]), f"{module} imports {sorted(imported - set(flow[:position]))}"


def test_flat_one_colour_images_are_not_near_duplicates_of_each_other():
    """Their 8x8 grey thumbnails are uniform: nothing to correlate, and red and green can share a grey."""
    red, green = np.zeros((24, 24, 3), np.uint8), np.zeros((24, 24, 3), np.uint8)
    red[..., 0], green[..., 1] = 200, 102
    facts = [image_facts(example(encode(red), "red", "red/a.png"), "train"),
             image_facts(example(encode(green), "green", "green/b.png"), "test")]
    assert leakage.find_leaks(facts, 4, *NEAR) == []


def drawn_circle(shape_rgb, background_rgb, noise_seed: int, brighten: int = 0) -> bytes:
    """A filled circle like the demo's (48 px, pixel noise); the same geometry whatever the colours."""
    from PIL import ImageDraw
    image = Image.new("RGB", (48, 48), background_rgb)
    ImageDraw.Draw(image).ellipse((8, 8, 38, 38), fill=shape_rgb)
    pixels = np.asarray(image, np.float64) + np.random.default_rng(noise_seed).normal(0, 6, (48, 48, 3)) + brighten
    return encode(np.clip(pixels, 0, 255).astype(np.uint8))


def test_the_same_drawing_in_another_colour_is_not_a_near_duplicate_but_a_brightened_copy_is():
    """The demo's false alarms: distinct circles in one place correlate 0.99 in grey; their colours differ."""
    train = [image_facts(example(drawn_circle((30, 30, 40), (130, 210, 200), 1), "circle", "t/black-on-teal"), "train"),
             image_facts(example(encode(smooth(7)), "other", "t/other"), "train")]
    navy = image_facts(example(drawn_circle((20, 20, 90), (140, 220, 240), 2), "circle", "h/navy-on-sky"), "test")
    copy = image_facts(example(drawn_circle((30, 30, 40), (130, 210, 200), 1, brighten=25), "circle", "h/copy"), "test")
    assert leakage.similarity(train[0], navy) > NEAR[0]  # the grey structure alone would pair them
    assert [(x.train_path, x.held_out_path) for x in leakage.find_leaks(train + [navy, copy], 4, *NEAR)] == [
        ("t/black-on-teal", "h/copy")]


def test_a_lookalike_of_many_train_images_is_not_paired_but_a_picture_in_train_twice_still_leaks():
    """The runner-up rule: a digit 1 resembles every other 1 about as well as its closest one; a copy of a
    picture matches that picture (and its own re-encoded twin in train) far better than anything else."""
    digits = sklearn_digit_pngs(400)
    ones = [i for i, d in enumerate(load_digits_targets(400)) if d == 1]
    facts = [image_facts(example(png_bytes(digits[i]), "1", f"t/{i}"), "train") for i in ones[1:]]
    lookalike = image_facts(example(png_bytes(digits[ones[0]]), "1", "h/lookalike"), "test")
    best = max(leakage.similarity(lookalike, f) for f in facts)
    assert best > NEAR[0] and leakage.find_leaks(facts + [lookalike], 4, *NEAR) == []
    picture = Image.fromarray(smooth(11))
    twice = [image_facts(example(png_bytes(picture), "p", "t/picture.png"), "train"),
             image_facts(example(png_bytes(picture, "JPEG", quality=90), "p", "t/picture.jpg"), "train")]
    copy = image_facts(example(png_bytes(picture.resize((40, 40)), "JPEG", quality=75), "p", "h/copy"), "test")
    assert {x.train_path for x in leakage.find_leaks(facts + twice + [copy], 4, *NEAR)} == {
        "t/picture.png", "t/picture.jpg"}


def load_digits_targets(count: int):
    from sklearn.datasets import load_digits
    return list(load_digits().target[:count])
