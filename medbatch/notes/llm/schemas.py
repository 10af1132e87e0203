"""JSON shapes the model must answer in, enforced by structured outputs and validated again on receipt.

The model returns the strings it found, never offsets: code finds them in the text, so a model cannot
point at text that is not there, and nothing it writes reaches the output except verified substrings
(entities) or a summary.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medbatch.spec import PhiType

# Bounds keep a degenerate model from generating until max_tokens.
MAX_ITEMS = 200
MAX_ITEM_CHARS = 200


class Answer(BaseModel):
    """Base of answer shapes."""

    # Extra keys (a model adding "start"/"end") are ignored: offsets are never taken from the model.
    model_config = ConfigDict(extra="ignore")


class PhiItem(Answer):
    """One identifier, quoted exactly as it appears in the note."""

    text: str = Field(min_length=1, max_length=MAX_ITEM_CHARS)
    type: PhiType


class PhiAnswer(Answer):
    """Answer to the de-identification task."""

    phi: list[PhiItem] = Field(max_length=MAX_ITEMS)


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with additionalProperties: false on every object, so constrained decoding cannot
    invent keys."""
    _close(schema)
    return schema


def combined(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """One object schema holding every key of ``schemas`` (several stages answered in one request)."""
    out: dict[str, Any] = {"type": "object", "properties": {}, "required": [], "$defs": {}}
    for schema in schemas:
        out["properties"].update(schema.get("properties", {}))
        out["required"] += [k for k in schema.get("required", []) if k not in out["required"]]
        out["$defs"].update(schema.get("$defs", {}))
    if not out["$defs"]:
        del out["$defs"]
    return closed(out)


def phi_schema() -> dict[str, Any]:
    """The de-identification answer's schema."""
    return closed(PhiAnswer.model_json_schema())


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
