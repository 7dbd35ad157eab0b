"""The typed config: defaults, presets, files, overrides and the errors users see."""
import dataclasses
import json
import os
import re

import pytest
import yaml

from schemas.config import PRESETS, Config, ConfigError, build_config, from_dict


def test_defaults_are_valid_and_round_trip_through_a_dict():
    cfg = build_config()
    assert cfg == from_dict(cfg.to_dict())
    assert cfg.model.preset == "default" and cfg.data.image_size == "auto"


def test_safe_defaults_for_orientation_sensitive_images():
    """No mirror flips by default: a mirrored 2, 7 or letter is not the same class."""
    cfg = build_config()
    assert cfg.augment.flip_left_right is False and cfg.augment.flip_up_down is False
    assert cfg.train.lr_schedule == "cosine" and cfg.train.early_stopping_patience > 0


def test_image_size_takes_auto_or_an_integer_from_a_flag_or_a_file(tmp_path):
    assert build_config(overrides=["data.image_size=28"]).data.image_size == 28
    assert build_config(overrides=["data.image_size=Auto"]).data.image_size == "auto"
    path = tmp_path / "cfg.yaml"
    path.write_text("data:\n  image_size: 96\n")
    assert build_config(str(path)).data.image_size == 96


def test_overrides_are_coerced_to_the_field_types():
    cfg = build_config(overrides=["train.epochs=3", "augment.flip_up_down=true",
                                  "eval.min_accuracy=0.5", "model.stage_filters=[16,32]",
                                  "model.stage_strides=1,2"])
    assert cfg.train.epochs == 3 and cfg.augment.flip_up_down is True
    assert cfg.eval.min_accuracy == 0.5
    assert cfg.model.stage_filters == [16, 32] and cfg.model.stage_strides == [1, 2]


def test_preset_is_applied_first_then_explicit_model_keys_win(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model:\n  dropout: 0.3\n  preset: seed\n")
    cfg = build_config(str(path))
    assert cfg.model.dropout == 0.3
    assert cfg.model.head == PRESETS["seed"]["head"] == "flatten"
    assert cfg.model.dense_units == 128


def test_json_file_and_cli_override_order(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"train": {"epochs": 7, "batch_size": 8}}))
    cfg = build_config(str(path), ["train.epochs=2"])
    assert (cfg.train.epochs, cfg.train.batch_size) == (2, 8)


@pytest.mark.parametrize("overrides, message", [
    (["train.epochz=3"], "train.epochz"),
    (["trian.epochs=3"], "trian"),
    (["train.epochs=three"], "train.epochs"),
    (["train.epochs=2.5"], "train.epochs"),
    (["model.preset=huge"], "model.preset"),
    (["model.stem_kernel_size=4"], "model.stem_kernel_size"),
    (["model.batch_norm=sometimes"], "model.batch_norm"),
    (["model.stage_strides=[2]"], "model.stage_strides"),
    (["data.test_percent=90"], "data.test_percent"),
    (["data.eval_percent=20"], "data.eval_percent no longer exists: it was replaced by data.validation_percent"),
    (["eval.max_accuracy_drop=0.01"], "eval.max_accuracy_drop no longer exists: it was replaced by eval.confidence"),
    (["eval.force_bless=true"], "eval.force_reason"),
    (["eval.small_test_split=maybe"], "eval.small_test_split"),
    (["eval.confidence=1"], "eval.confidence"),
    (["data.image_size=big"], "data.image_size: 'big'; expected 'auto' or an integer"),
    (["data.image_size=4"], "data.image_size"),
    (["data.image_size_auto_min=256"], "data.image_size_auto_min"),
    (["train.lr_schedule=step"], "train.lr_schedule"),
    (["train.label_smoothing=1"], "train.label_smoothing"),
    (["augment.flip_left_right=maybe"], "augment.flip_left_right"),
    (["serving.keep_versions=0"], "serving.keep_versions: 0; expected an integer >= 1"),
    (["serving.warmup_images=0"], "serving.warmup_images"),
    (["serving.infra_check_atol=0"], "serving.infra_check_atol"),
    (["serving.max_image_pixels=200000000"], "serving.max_image_pixels: 200000000; expected an integer from 1 to "
     "178956970, or 0 for data.max_image_pixels"),
    (["serving.max_image_bytes=-1"], "serving.max_image_bytes: -1; expected an integer from 1 to 2147483647"),
    (["serving.max_batch_images=0"], "serving.max_batch_images: 0; expected an integer from 1 to 100000"),
    (["run.large_data_images=-1"], "run.large_data_images: -1; expected an integer >= 0"),
    (["epochs=3"], "section.key=value"),
])
def test_bad_keys_and_values_are_rejected_with_their_name(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        build_config(overrides=overrides)


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not found: .*nope.yaml"):
        build_config(str(tmp_path / "nope.yaml"))
    flat = tmp_path / "flat.yaml"
    flat.write_text("epochs: 3\n")
    with pytest.raises(ConfigError, match="epochs"):
        build_config(str(flat))


@pytest.mark.parametrize("name, text, line", [
    ("bad.yaml", "train:\n  epochs: [1, 2\n", "bad.yaml:3:1: expected ',' or ']', but got '<stream end>' "
                                               "(while parsing a flow sequence that starts at line 2)"),
    ("colon.yaml", "train:\n  epochs: 3: 4\n", "colon.yaml:2:12: mapping values are not allowed here"),
    ("bad.json", '{"train": {"epochs": 3,}}', "bad.json:1:24: Expecting property name enclosed in double "
                                             "quotes (not valid JSON)"),
])
def test_a_broken_config_file_is_one_line_naming_file_line_and_column(tmp_path, name, text, line):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as error:
        build_config(str(tmp_path / name))
    assert str(error.value) == f"{tmp_path}/{line}"


@pytest.mark.parametrize("nested, message", [
    ({"train": [1, 2]}, "config section 'train' must be a mapping of keys, got [1, 2]"),
    ({"train": "epochs=3"}, "config section 'train' must be a mapping of keys, got 'epochs=3'"),
    ([("train", {})], "the config must be a mapping of sections"),
])
def test_a_section_that_is_not_a_mapping_is_a_config_error(nested, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(nested)


def test_a_config_file_section_that_is_not_a_mapping_is_named(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("train:\n  - epochs\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: section 'train' must be a mapping of keys")):
        build_config(str(path))


def test_stage_filters_and_strides_of_different_lengths_name_both_keys():
    with pytest.raises(ConfigError) as error:
        build_config(overrides=["model.stage_filters=32,64"])
    assert str(error.value) == (
        "model.stage_filters [32, 64] has 2 value(s) but model.stage_strides [2, 2, 2] has 3; they must be "
        "equally long (one filter count and one stride per stage), e.g. --set model.stage_strides=2,2")
    assert build_config(overrides=["model.stage_filters=32,64", "model.stage_strides=2,2"]).model.stage_strides \
        == [2, 2]


# One value per section that its validate() must refuse: proves Config.validate() visits every section.
INVALID_PER_SECTION = {
    "data": ("image_size", 4), "augment": ("zoom", 1.5), "model": ("dropout", 1.0), "train": ("epochs", 0),
    "tune": ("algorithm", "grid"),
    "eval": ("min_accuracy", 1.5), "serving": ("model_name", "a/b"), "run": ("pipeline_name", "a b"),
    "validation": ("min_image_side", 0), "kubeflow": ("trainer_gpus", -1),
}


def test_defaults_validate_and_every_section_is_validated():
    cfg = Config()
    assert cfg.validate() is cfg
    assert set(INVALID_PER_SECTION) == {f.name for f in dataclasses.fields(Config)}
    for section, (key, value) in INVALID_PER_SECTION.items():
        broken = Config()
        setattr(getattr(broken, section), key, value)
        with pytest.raises(ConfigError, match=re.escape(f"invalid value for {section}.{key}: {value!r}")):
            broken.validate()


EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "example.yaml")


def test_the_example_config_lists_every_key_with_its_default():
    """configs/example.yaml is the reference users copy: it must never drift from schemas/config/."""
    with open(EXAMPLE) as f:
        example = yaml.safe_load(f)
    defaults = Config().to_dict()
    assert list(example) == list(defaults)
    for section, values in defaults.items():
        assert list(example[section]) == list(values), section
        assert example[section] == values, section
    assert build_config(EXAMPLE) == Config()


def test_every_key_of_the_example_config_has_a_comment():
    with open(EXAMPLE) as f:
        lines = f.read().splitlines()
    keys = [line for line in lines if line.startswith("  ") and not line.lstrip().startswith(("-", "#"))]
    uncommented = [line for line in keys if "#" not in line]
    assert keys and uncommented == []


def test_a_forced_push_needs_a_reason_and_keeps_it_verbatim():
    cfg = build_config(overrides=["eval.force_bless=true", "eval.force_reason=baseline trained on mislabeled data"])
    assert cfg.eval.force_bless is True and cfg.eval.force_reason == "baseline trained on mislabeled data"
    with pytest.raises(ConfigError, match="eval.force_reason=.*stored with the run"):
        build_config(overrides=["eval.force_bless=true", "eval.force_reason=  "])


def test_serving_request_limits_default_to_the_ingestion_limits():
    from components.trainer.spec import ServingLimits
    assert ServingLimits.from_config(build_config()) == ServingLimits(50_000_000, 50 * 2**20, 1000)
    cfg = build_config(overrides=["data.max_image_pixels=1000000", "data.max_file_mb=2", "serving.max_batch_images=8"])
    assert ServingLimits.from_config(cfg) == ServingLimits(1_000_000, 2 * 2**20, 8)
    cfg = build_config(overrides=["serving.max_image_pixels=4000", "serving.max_image_bytes=100"])
    assert ServingLimits.from_config(cfg) == ServingLimits(4000, 100, 1000)
