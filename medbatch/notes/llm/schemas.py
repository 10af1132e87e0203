"""JSON shapes the model must answer in, enforced by structured outputs and validated again on receipt.

The model returns the strings it found, never offsets: code finds them in the text, so a model cannot
point at text that is not there, and nothing it writes reaches the output except verified substrings
(entities) or a summary.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medbatch.notes.spans import Assertion
from medbatch.spec import EntityType, PhiType

# Bounds keep a degenerate model from generating until max_tokens.
MAX_ITEMS = 200
MAX_ITEM_CHARS = 200
MAX_ATTRIBUTE_CHARS = 60


class _Answer(BaseModel):
    # Extra keys (a model adding "start"/"end") are ignored: offsets are never taken from the model.
    model_config = ConfigDict(extra="ignore")


class PhiItem(_Answer):
    """One identifier, quoted exactly as it appears in the note."""

    text: str = Field(min_length=1, max_length=MAX_ITEM_CHARS)
    type: PhiType


class PhiAnswer(_Answer):
    """Answer to the de-identification task."""

    phi: list[PhiItem] = Field(max_length=MAX_ITEMS)


class EntityItem(_Answer):
    """One clinical entity, quoted exactly; what the note says of it; for a medication, how it is given.

    The attributes are quotes too: each is kept only where it occurs after the drug on its line.
    """

    text: str = Field(min_length=1, max_length=MAX_ITEM_CHARS)
    type: EntityType
    assertion: Assertion | None = None
    dose: str | None = Field(default=None, max_length=MAX_ATTRIBUTE_CHARS)
    unit: str | None = Field(default=None, max_length=MAX_ATTRIBUTE_CHARS)
    route: str | None = Field(default=None, max_length=MAX_ATTRIBUTE_CHARS)
    frequency: str | None = Field(default=None, max_length=MAX_ATTRIBUTE_CHARS)
    duration: str | None = Field(default=None, max_length=MAX_ATTRIBUTE_CHARS)


class EntitiesAnswer(_Answer):
    """Answer to the NER task."""

    entities: list[EntityItem] = Field(max_length=MAX_ITEMS)


class SummaryAnswer(_Answer):
    """Answer to the summarization task."""

    summary: str = Field(max_length=20_000)


class AnalysisAnswer(_Answer):
    """NER and summary in one answer (the combined-call mode)."""

    entities: list[EntityItem] = Field(max_length=MAX_ITEMS)
    summary: str = Field(max_length=20_000)


TaskName = Literal["phi", "entities", "summary", "analysis"]
ANSWERS: dict[str, type[_Answer]] = {
    "phi": PhiAnswer,
    "entities": EntitiesAnswer,
    "summary": SummaryAnswer,
    "analysis": AnalysisAnswer,
}


def json_schema(task: str, entity_types: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The JSON schema for structured outputs, narrowed to the requested entity types."""
    schema = ANSWERS[task].model_json_schema()
    if entity_types is not None and "EntityItem" in schema.get("$defs", {}):
        schema["$defs"]["EntityType"]["enum"] = list(entity_types)
    _close(schema)
    return schema


def _close(node: Any) -> None:
    """additionalProperties: false everywhere, so constrained decoding cannot invent keys."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)
