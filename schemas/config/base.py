"""What every config section shares: the error type, the value check, the `auto` marker."""
from __future__ import annotations

from typing import Any

AUTO = "auto"  # a knob whose default is AUTO also takes an integer: data.image_size, model.stem_stride


class ConfigError(ValueError):
    """A config key or value the user must fix."""


def check(ok: bool, key: str, value: Any, expected: str) -> None:
    """Raise ConfigError naming `key`, its `value` and what was `expected`, unless `ok`."""
    if not ok:
        raise ConfigError(f"invalid value for {key}: {value!r}; expected {expected}")
