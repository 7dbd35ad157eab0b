"""The one typed config that holds every knob of the pipeline.

Defaults live in the section modules of this package and nowhere else: `data` and `validation`
(data.py), `augment`, `model` and `train` (training.py), `tune` (tuning.py), `eval` and `serving` (serving.py), `run` and
`kubeflow` (running.py); root.py gathers them into `Config`. A config is built from defaults, then a
YAML/JSON file, then `--set section.key=value` overrides (loading.py); unknown keys and invalid values
are rejected with a message that names them.

`model.preset` is special: the preset's values are applied first, then any
other `model.*` key given by the user, whatever the order they were given in.
"""
from schemas.config.base import AUTO, ConfigError, check
from schemas.config.data import MAX_DECODABLE_PIXELS, DataConfig, ValidationConfig
from schemas.config.loading import REMOVED_KEYS, build_config, from_dict, load_config_file
from schemas.config.root import Config
from schemas.config.running import KubeflowConfig, RunConfig
from schemas.config.serving import EvalConfig, ServingConfig
from schemas.config.training import PRESETS, AugmentConfig, ModelConfig, TrainConfig
from schemas.config.tuning import TUNE_ALGORITHMS, TuneConfig

__all__ = ["AUTO", "MAX_DECODABLE_PIXELS", "PRESETS", "REMOVED_KEYS", "AugmentConfig", "Config", "ConfigError",
           "DataConfig", "EvalConfig", "KubeflowConfig", "ModelConfig", "RunConfig", "ServingConfig",
           "TrainConfig", "TUNE_ALGORITHMS", "TuneConfig", "ValidationConfig", "build_config", "check", "from_dict", "load_config_file"]
