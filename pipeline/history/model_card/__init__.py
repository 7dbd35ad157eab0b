"""The model card of a run's candidate: built from the run's facts (card.py), written as Markdown
(markdown.py) and JSON by the ModelCard step (component.py), pushed with the version, shown in the report.

Its own writer: model-card-toolkit 2.0 cannot be installed beside TFX 1.16 (docs/model-card.md).
"""
from __future__ import annotations

from typing import Optional

from components.fs import open_file, read_json, write_json
from components.pusher.spec import CARD_JSON, CARD_MARKDOWN
from pipeline.history.model_card.spec import NODE_ID
from pipeline.history.run_record import RunRecord


def write_card(card: dict, uri: str) -> None:
    """model_card.json and model_card.md into the folder `uri`."""
    from pipeline.history.model_card.markdown import card_markdown
    write_json(f"{uri.rstrip('/')}/{CARD_JSON}", card)
    with open_file(f"{uri.rstrip('/')}/{CARD_MARKDOWN}", "wb") as f:
        f.write(card_markdown(card).encode("utf-8"))


def read_card(record: RunRecord) -> Optional[dict]:
    """{"json": the card, "markdown": its text} from the ModelCard step's artifact; None when it did not run."""
    found = record.outputs(NODE_ID)
    card = read_json(f"{found[0].uri.rstrip('/')}/{CARD_JSON}") if found else None
    if card is None:
        return None
    with open_file(f"{found[0].uri.rstrip('/')}/{CARD_MARKDOWN}", "rb") as f:
        return {"json": card, "markdown": f.read().decode("utf-8")}
