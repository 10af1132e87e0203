"""What a model answers for NER, and how the answer is located in the note.

Entities are quotes: each is found in the note by code (offsets never come from the model), and a quote
found nowhere makes the answer ungrounded. Medication attributes are quotes too, kept only where they
occur after the drug on its line.
"""

from __future__ import annotations

import re
from dataclasses import fields

from pydantic import Field

from medbatch.notes.llm.parsing import locate, quote_pattern
from medbatch.notes.llm.schemas import MAX_ITEM_CHARS, MAX_ITEMS, Answer
from medbatch.notes.spans import Assertion, Entity, MedicationAttributes
from medbatch.notes.stage import QuoteError
from medbatch.notes.tasks.ner.medication import WINDOW_CHARS
from medbatch.spec import EntityType

MAX_ATTRIBUTE_CHARS = 60


class EntityItem(Answer):
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


class EntitiesAnswer(Answer):
    """Answer to the NER task."""

    entities: list[EntityItem] = Field(max_length=MAX_ITEMS)


def _grounded(text: str, end: int, quote: str | None) -> str | None:
    """``quote`` as the note writes it after offset ``end`` on the same line, or None when it is not there."""
    if quote is None or not quote.strip():
        return None
    line_end = text.find("\n", end)
    window = text[end : min(end + WINDOW_CHARS, line_end if line_end >= 0 else len(text))]
    found = re.compile(quote_pattern(quote).pattern, re.IGNORECASE).search(window)
    return found.group() if found else None


def _attributes(item: EntityItem, text: str, end: int) -> MedicationAttributes | None:
    """The medication attributes the model quoted that follow the drug at ``end``; the rest are None."""
    attributes = MedicationAttributes(
        **{f.name: _grounded(text, end, getattr(item, f.name)) for f in fields(MedicationAttributes)}
    )
    return attributes if attributes != MedicationAttributes() else None


def entity_list(items: list[EntityItem], text: str, types: tuple[str, ...]) -> list[Entity]:
    """Entities located in ``text``; raises QuoteError when a quote is not in the text.

    A stated assertion is kept only for a quote that occurs once (elsewhere it cannot say which mention
    it means, and ConText judges each); a stated attribute only where the note has it after the drug.
    """
    wanted = [item for item in items if item.type.value in types]
    unique: dict[tuple[int, int, str], Entity] = {}
    missing = 0
    for item in wanted:
        spans = locate(text, item.text)
        missing += not spans
        for start, end in spans:
            medication = item.type.value == "MEDICATION"
            unique.setdefault(
                (start, end, item.type.value),
                Entity(
                    start,
                    end,
                    item.type.value,
                    text[start:end],
                    assertion=item.assertion if len(spans) == 1 else None,
                    attributes=_attributes(item, text, end) if medication else None,
                ),
            )
    if missing:
        raise QuoteError(missing, len(wanted), "entities")
    return sorted(unique.values(), key=lambda e: (e.start, e.end, e.type))
