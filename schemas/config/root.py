"""The root of the config: one field per section, in the order a config file lists them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict

from schemas.backbones import backbone_problem
from schemas.config.base import ConfigError
from schemas.config.data import DataConfig, ValidationConfig
from schemas.config.running import KubeflowConfig, RunConfig
from schemas.config.serving import EvalConfig, ServingConfig
from schemas.config.training import PRESETS, AugmentConfig, ModelConfig, TrainConfig
from schemas.config.tuning import TuneConfig


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    run: RunConfig = field(default_factory=RunConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    kubeflow: KubeflowConfig = field(default_factory=KubeflowConfig)

    def validate(self) -> "Config":
        for section in dataclasses.fields(self):
            getattr(self, section.name).validate()
        problem = backbone_problem(self.model, ModelConfig(**PRESETS["default"]), self.data.image_size)
        if problem:
            raise ConfigError(problem)
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)
