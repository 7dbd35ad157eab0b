"""Typed settings that cross into an executor: a dataclass as JSON text, and back.

A TFX exec property is a string, an int or a proto. Each step declares the settings its executor
reads as a dataclass in its `spec.py` (a subset of the config, or more); the factory writes it with
`to_json` and the executor reads it with `from_json`, which refuses unknown and missing keys by name
instead of handing the executor an untyped dict. Fields that are dataclasses themselves (a config
section) are rebuilt as such.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Mapping, Type, TypeVar

T = TypeVar("T")


class CarrierError(ValueError):
    """Settings text that does not match its dataclass: the message names the class and the keys."""


def to_json(settings: Any) -> str:
    """The dataclass `settings` as canonical JSON (sorted keys: equal settings give equal text)."""
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def from_json(cls: Type[T], text: str) -> T:
    """Rebuild a `cls` written by `to_json`."""
    return from_mapping(cls, json.loads(text))


def from_mapping(cls: Type[T], values: Mapping[str, Any]) -> T:
    """A `cls` from {field: value}; nested dataclass fields from their own mappings."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in values
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        raise CarrierError(f"{cls.__name__} settings do not match this code: unknown {unknown}, missing {missing}; "
                           "the pipeline was built by another imgpipe version, rebuild or recompile it")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _value(hints[name], value) for name, value in values.items()})


def _value(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return from_mapping(hint, value)
    return value
