"""Tuning (tune.*): the config keys, the search space per backbone, KerasTuner's oracles proposing inside it,
a real TFX Tuner run whose best values the Trainer applies and records, and the compiled Kubeflow spec."""
import json
import re

import pytest

from schemas.config import ConfigError, build_config


@pytest.mark.parametrize("override, message", [
    ("tune.trials=-1", "invalid value for tune.trials: -1; expected an integer >= 0 (0 turns the Tuner off)"),
    ("tune.max_epochs=0", "invalid value for tune.max_epochs: 0; expected an integer >= 1"),
    ("tune.algorithm=grid", "invalid value for tune.algorithm: 'grid'; expected one of random, hyperband, bayesian"),
])
def test_tune_keys_are_validated_in_one_line_naming_the_key_and_allowed_values(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(overrides=[override])


def test_tuning_is_off_by_default_and_every_key_is_set_by_name():
    tune = build_config().tune
    assert (tune.trials, tune.max_epochs, tune.algorithm) == (0, 6, "random")
    cfg = build_config(overrides=["tune.trials=4", "tune.max_epochs=3", "tune.algorithm=bayesian"])
    assert (cfg.tune.trials, cfg.tune.max_epochs, cfg.tune.algorithm) == (4, 3, "bayesian")


def _space(*overrides, image_size=48):
    from components.tuner.space import search_space
    cfg = build_config(overrides=list(overrides))
    return search_space(cfg.model, cfg.train.learning_rate, image_size)


def test_the_residual_cnn_searches_learning_rate_width_depth_dropout_but_not_the_backbone():
    hp = _space()
    assert [p.name for p in hp.space] == ["learning_rate", "width", "depth", "dropout"]
    assert hp.values == {"learning_rate": 0.002, "width": 32, "depth": 3, "dropout": 0.2}  # the config's values
    from components.tuner.space import max_depth
    assert (max_depth(16), max_depth(32), max_depth(48)) == (2, 3, 4)  # no stage halves the image below 3 px
    assert _space(image_size=16).values["depth"] == 2


def test_a_keras_application_searches_its_head_width_and_the_backbones_that_take_the_size():
    hp = _space("model.backbone=mobilenet_v3_small", "model.backbone_weights=none", image_size=96)
    names = [p.name for p in hp.space]
    assert names == ["learning_rate", "width", "dropout", "backbone"]  # no depth: it shapes resnet_cnn only
    assert hp.values["backbone"] == "mobilenet_v3_small" and hp.values["width"] == 0
    backbones = hp.space[-1].values
    assert "resnet_cnn" not in backbones and set(backbones) == {"mobilenet_v3_small", "efficientnet_v2_b0", "resnet50"}


def test_a_backbone_from_a_weights_file_is_not_searched():
    hp = _space("model.backbone=mobilenet_v3_small", "model.backbone_weights=/w/m.h5", image_size=96)
    assert "backbone" not in [p.name for p in hp.space]


def test_a_trials_values_replace_the_configs_as_the_trainer_applies_them():
    from components.trainer.spec import TrainerSettings
    from components.tuner.space import tuned_values, with_hyperparameters

    settings = TrainerSettings.from_config(build_config())
    values = tuned_values({"values": {"learning_rate": 0.001, "width": 16, "depth": 2, "dropout": 0.4,
                                      "tuner/epochs": 2, "tuner/round": 0}})
    assert values == {"learning_rate": 0.001, "width": 16, "depth": 2, "dropout": 0.4}
    tuned = with_hyperparameters(settings, values)
    assert (tuned.train.learning_rate, tuned.model.dropout) == (0.001, 0.4)
    assert (tuned.model.stem_filters, tuned.model.stage_filters, tuned.model.stage_strides) == (16, [16, 32], [2, 2])
    assert with_hyperparameters(settings, {}) is settings  # no Tuner step: the config as it is


@pytest.mark.parametrize("algorithm", ["random", "hyperband", "bayesian"])
def test_each_algorithms_oracle_proposes_values_inside_the_space(algorithm, tmp_path):
    from components.tuner.tuner_fn import make_oracle

    hp = _space()
    cfg = build_config(overrides=["tune.trials=3", "tune.max_epochs=3", f"tune.algorithm={algorithm}"])
    oracle = make_oracle(cfg.tune, hp, seed=1)
    oracle._set_project_dir(str(tmp_path), "t")
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    assert values["learning_rate"] in (0.0005, 0.001, 0.002, 0.004) and values["width"] in (16, 32, 48, 64)
    assert 2 <= values["depth"] <= 3 and 0 <= values["dropout"] <= 0.5
    assert (values.get("tuner/epochs", 3) <= 3) and oracle.max_trials == 3


def test_the_summary_line_names_trials_algorithm_score_split_and_values():
    from components.tuner.results import tuning_line
    trials = [{"trial_id": "1", "score": 1.0, "learning_rate": 0.001}, {"trial_id": "0", "score": 0.9}]
    best = {"depth": 3, "dropout": 0.2, "learning_rate": 0.001, "width": 32}  # as a sorted JSON file keeps them
    assert tuning_line(trials, "random", best) == (
        "Tuning: 2 trials (random), best val_accuracy 1.000 on the validation split: "
        "learning_rate 0.001, width 32, depth 3, dropout 0.2")


def test_a_tuned_run_writes_best_hyperparameters_that_the_trainer_applies_and_records(tmp_path):
    """LocalDagRunner on tiny colour images with tune.trials=2, tune.max_epochs=1: TFX's Tuner runs our trial
    runner, writes best_hyperparameters in KerasTuner's format, and the Trainer trains with those values and
    records them in training.json and the exported model's facts; the summary prints the Tuning line. The decoded
    images do not fit train.cache_max_mb=0: every trial and the Trainer read them from a file, removed after."""
    from components.pusher.publish import read_model_facts
    from components.tuner.spec import BEST_HYPERPARAMETERS_FILE, NODE_ID
    from pipeline.history.summary import format_summary
    from pipeline.local.runner import run_local
    from tests.fixtures import make_colour_folder

    data = make_colour_folder(str(tmp_path / "data"), per_class=12)
    cfg = build_config(overrides=[
        "tune.trials=2", "tune.max_epochs=1", "data.image_size=16", "train.epochs=2", "train.batch_size=16",
        "train.early_stopping_patience=0", "eval.min_accuracy=0", "eval.min_class_recall=0",
        "eval.max_class_recall_drop=1", "serving.warmup_images=2", "data.test_percent=20",
        "train.cache_max_mb=0", f"train.disk_cache_dir={tmp_path / 'cache'}"])  # the trials and the Trainer on a file
    summary = run_local(cfg, data, str(tmp_path / "out"))

    assert summary.error == "", summary.error
    assert NODE_ID in [c.component for c in summary.components]
    best_files = list((tmp_path / "out").rglob(BEST_HYPERPARAMETERS_FILE))
    assert len(best_files) == 1
    best = json.loads(best_files[0].read_text())["values"]  # KerasTuner's HyperParameters.get_config()
    assert set(best) == {"learning_rate", "width", "depth", "dropout"}
    assert summary.training["hyperparameters"] == best  # the Trainer's training.json
    assert "above train.cache_max_mb=0; cached in a file under " + str(tmp_path / "cache") in summary.training["input"]
    assert list((tmp_path / "cache").iterdir()) == []  # the Tuner's cache and the Trainer's: removed by the run's end
    facts = read_model_facts(summary.pushed_path)
    assert facts["training"]["hyperparameters"] == best  # the exported model's assets.extra/imgpipe.json
    card = next((tmp_path / "out").rglob("model_card.md")).read_text()
    assert "| hyperparameter tuning (tune.*) | 2 trials (random) judged on the validation split; trained with " \
           f"learning_rate {best['learning_rate']}" in card
    line = next(l for l in format_summary(summary).splitlines() if l.startswith("Tuning:"))
    assert line.startswith("Tuning: 2 trials (random), best val_accuracy ") and "on the validation split: " in line
    assert f"width {best['width']}, depth {best['depth']}" in line


def test_the_compiled_kubeflow_spec_has_a_tuner_task_feeding_the_trainer_only_when_trials_are_set(kfp_yaml, tmp_path):
    from pipeline.kubeflow.compiler import compile_pipeline
    from pipeline.kubeflow.spec import load_pipeline_spec
    from tests.fixtures import KFP_DATA, KFP_IMAGE, KFP_ROOT, KFP_SERVING

    untuned = load_pipeline_spec(kfp_yaml)["root"]["dag"]["tasks"]
    assert "Tuner" not in untuned and "hyperparameters" not in untuned["Trainer"]["inputs"].get("artifacts", {})

    cfg = build_config(overrides=["tune.trials=2", "tune.algorithm=hyperband"])
    path = compile_pipeline(cfg, "kfp", KFP_IMAGE, KFP_ROOT, str(tmp_path / "tuned.yaml"), data_root=KFP_DATA,
                            serving_dir=KFP_SERVING)
    spec = load_pipeline_spec(path)
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["Tuner"]["inputs"]["parameters"]["tuner_fn"]["runtimeValue"]["constant"] == \
        "components.tuner.tuner_fn.tuner_fn"
    settings = json.loads(json.loads(tasks["Tuner"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]
                                     ["constant"])["settings"])
    assert settings["tune"] == {"trials": 2, "max_epochs": 6, "algorithm": "hyperband"}
    assert tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"] == \
        {"producerTask": "Tuner", "outputArtifactKey": "best_hyperparameters"}
    assert len(spec["deploymentSpec"]["executors"]) == len(tasks) == len(untuned) + 1
