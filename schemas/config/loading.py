"""Building a Config: defaults <- a YAML/JSON file <- `--set section.key=value` overrides, validated."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping, Tuple, Union

from schemas.config.base import AUTO, ConfigError
from schemas.config.root import Config
from schemas.config.training import PRESETS, ModelConfig

# Keys whose default is "auto" and that also take a number of this kind (model.backbone_weights' "auto" is a
# word, not this)
NUMBER_OR_AUTO_KEYS = {"data.image_size": int, "model.stem_stride": int, "train.fine_tune_lr_factor": float}
# String keys that take the word "off": YAML 1.1 reads a bare `off` as false (and `on` as true)
OFF_WORD_KEYS = {"serving.tflite": "off"}


def build_config(file_path: str = "", overrides: Tuple[str, ...] | List[str] = ()) -> Config:
    """Defaults <- config file <- `key=value` overrides; validated."""
    nested: Dict[str, Dict[str, Any]] = {}
    if file_path:
        _merge(nested, load_config_file(file_path), source=file_path)
    for item in overrides:
        key, value = _parse_override(item)
        section, _, name = key.partition(".")
        _merge(nested, {section: {name: value}}, source=f"--set {item}")
    return from_dict(nested)


def from_dict(nested: Mapping[str, Any]) -> Config:
    """Build a validated Config from a {section: {key: value}} mapping."""
    if not isinstance(nested, Mapping):
        raise ConfigError(f"the config must be a mapping of sections, got {nested!r}")
    section_types = {f.name: f.type for f in dataclasses.fields(Config)}
    unknown = sorted(set(nested) - set(section_types))
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(unknown)}; "
                          f"known sections: {', '.join(section_types)}")
    sections = {}
    for f in dataclasses.fields(Config):
        values = nested.get(f.name) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section {f.name!r} must be a mapping of keys, got {values!r}")
        values = dict(values)
        cls = type(getattr(Config(), f.name))
        if f.name == "model":
            preset = values.get("preset", ModelConfig.preset)
            if preset not in PRESETS:
                raise ConfigError(f"invalid value for model.preset: {preset!r}; expected one of "
                                  + ", ".join(sorted(PRESETS)))
            values = {**PRESETS[preset], **values}
        sections[f.name] = _make_section(cls, f.name, values)
    return Config(**sections).validate()


# Keys that existed once: naming what replaced them beats "unknown key".
REMOVED_KEYS = {
    "data.eval_percent": "it was replaced by data.validation_percent (early stopping) and "
                         "data.test_percent (the Evaluator); see docs/evaluation-gate.md",
    "eval.max_accuracy_drop": "it was replaced by eval.confidence (a paired McNemar test against the "
                              "served model); see docs/evaluation-gate.md",
}


def _make_section(cls, section: str, values: Dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if f"{section}.{key}" in REMOVED_KEYS:
            raise ConfigError(f"config key {section}.{key} no longer exists: {REMOVED_KEYS[section + '.' + key]}")
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(section + '.' + k for k in unknown)}; "
                          f"known keys in {section!r}: {', '.join(fields)}")
    default = cls()
    coerced = {k: _coerce(f"{section}.{k}", v, getattr(default, k)) for k, v in values.items()}
    return cls(**coerced)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Coerce `value` to the type of the field's default, or raise ConfigError."""
    kind = type(default)
    try:
        if key in NUMBER_OR_AUTO_KEYS:
            return _number_or_auto(value, NUMBER_OR_AUTO_KEYS[key])
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if value is False and key in OFF_WORD_KEYS:
                return OFF_WORD_KEYS[key]
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind is list:
            if isinstance(value, str):
                value = json.loads(value) if value.strip().startswith("[") else value.split(",")
            if not isinstance(value, list):
                raise ValueError
            sample = default[0] if default else None
            return [_coerce(key, v, sample) for v in value] if sample is not None else list(value)
    except (ValueError, TypeError, json.JSONDecodeError):
        pass
    number = {int: "an integer", float: "a number"}.get(NUMBER_OR_AUTO_KEYS.get(key))
    expected = f"{AUTO!r} or {number}" if number else kind.__name__
    raise ConfigError(f"invalid value for {key}: {value!r}; expected {expected}")


def _number_or_auto(value: Any, kind: type) -> Union[int, float, str]:
    """AUTO, or `value` as `kind` (int or float); a bool, or a fraction where an int is due, is refused."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return kind(value)


def _parse_override(item: str) -> Tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or "." not in key or not key.split(".", 1)[1]:
        raise ConfigError(f"cannot read --set {item!r}; write it as section.key=value, e.g. train.epochs=5")
    return key.strip(), value.strip()


def _merge(into: Dict[str, Dict[str, Any]], new: Mapping[str, Any], source: str) -> None:
    if not isinstance(new, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of sections, got {type(new).__name__}")
    for section, values in new.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys, got {values!r}")
        into.setdefault(section, {}).update(values)


def load_config_file(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{e.lineno}:{e.colno}: {e.msg} (not valid JSON)") from None
    else:
        import yaml  # only needed for YAML files
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(_yaml_error_line(path, e)) from None
    return data or {}


def _yaml_error_line(path: str, error) -> str:
    """"FILE:LINE:COL: problem" in one line, instead of the parser's multi-line dump with carets."""
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return f"{path}: not valid YAML: " + " ".join(str(error).split())
    where = f"{path}:{mark.line + 1}:{mark.column + 1}"
    context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and start is not None:
        return f"{where}: {error.problem} ({context} that starts at line {start.line + 1})"
    return f"{where}: {error.problem}" + (f" ({context})" if context else "")
