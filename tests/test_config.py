"""The typed config: defaults, presets, files, overrides and the errors users see."""
import json

import pytest

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
    (["data.eval_percent=90"], "data.eval_percent"),
    (["data.image_size=big"], "data.image_size: 'big'; expected 'auto' or an integer"),
    (["data.image_size=4"], "data.image_size"),
    (["data.image_size_auto_min=256"], "data.image_size_auto_min"),
    (["train.lr_schedule=step"], "train.lr_schedule"),
    (["train.label_smoothing=1"], "train.label_smoothing"),
    (["augment.flip_left_right=maybe"], "augment.flip_left_right"),
    (["epochs=3"], "section.key=value"),
])
def test_bad_keys_and_values_are_rejected_with_their_name(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        build_config(overrides=overrides)


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not found: .*nope.yaml"):
        build_config(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        build_config(str(bad))
    flat = tmp_path / "flat.yaml"
    flat.write_text("epochs: 3\n")
    with pytest.raises(ConfigError, match="epochs"):
        build_config(str(flat))


def test_every_section_validates_its_defaults():
    assert Config().validate() is not None
