"""The Pusher's interface: its node id, its typed settings, and what it records on its PushedModel."""
from __future__ import annotations

import dataclasses

from schemas.config import ServingConfig

NODE_ID = "Pusher"
SETTINGS_KEY = "settings"   # the one custom_config key: PusherSettings
# TFX's own PushedModel properties (the stock Pusher's names), and ours
PUSHED_PROPERTY = "pushed"
PUSHED_VERSION_PROPERTY = "pushed_version"
PUSHED_DESTINATION_PROPERTY = "pushed_destination"
ALREADY_SERVED_PROPERTY = "already_served"  # not pushed: the served version identical to the candidate
MODEL_CARD_KEY = "model_card"  # the Pusher's input beside TFX's: the card it copies into the version
CARD_MARKDOWN = "model_card.md"
CARD_JSON = "model_card.json"
CARD_FILES = (CARD_MARKDOWN, CARD_JSON)
CARD_VERSION_DIR = "assets.extra"  # where a pushed version keeps them, beside imgpipe.json and the manifest


@dataclasses.dataclass(frozen=True)
class PusherSettings:
    model_name: str     # serving.model_name: named in models.config
    keep_versions: int  # serving.keep_versions: versions kept after a push
    signing_key: str = ""  # serving.signing_key: signs each version's manifest; "" = unsigned

    @classmethod
    def from_serving_config(cls, serving: ServingConfig) -> "PusherSettings":
        return cls(model_name=serving.model_name, keep_versions=serving.keep_versions,
                   signing_key=serving.signing_key)
