"""Parse and verify model answers. Nothing the model says is trusted until code has found it in the text.

Every failure is a ``ParseError`` whose message is safe to log and to write to an error column: it says
what was wrong (invalid JSON, a field of the wrong type, quotes not found in the note) and never repeats
what the model wrote, which may be note text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import fields

from pydantic import ValidationError

from medbatch.notes.llm.schemas import (
    ANSWERS,
    AnalysisAnswer,
    EntitiesAnswer,
    EntityItem,
    PhiAnswer,
    SummaryAnswer,
)
from medbatch.notes.spans import Entity, MedicationAttributes, PhiSpan, SpanSource
from medbatch.notes.tasks.ner.medication import WINDOW_CHARS
from medbatch.spec import PhiType

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ParseError(ValueError):
    """A model answer that cannot be used; the message quotes nothing from the answer."""


class QuoteError(ParseError):
    """A well-formed answer quoting text that is not in the note (``missing`` of ``total`` quotes)."""

    def __init__(self, missing: int, total: int, what: str) -> None:
        super().__init__(f"{missing} of {total} quoted {what} are not in the text")
        self.missing, self.total = missing, total


def parse_answer(task: str, raw: str) -> PhiAnswer | EntitiesAnswer | SummaryAnswer | AnalysisAnswer:
    """The answer of ``task`` in ``raw`` (the model's output), validated against the task's schema."""
    try:
        # Constrained decoding can still emit a raw control character inside a string; the JSON is
        # otherwise sound, so accept it here: such a quote is never found in the note, and summaries are
        # cleaned, so the character cannot reach the output.
        value = json.loads(raw, strict=False)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ParseError("truncated JSON (the answer stops before it is complete)") from None
        raise ParseError(f"invalid JSON at character {exc.pos}") from None
    try:
        answer = ANSWERS[task].model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise ParseError(f"answer does not match the schema: {where}: {first['msg']}") from None
    assert isinstance(answer, PhiAnswer | EntitiesAnswer | SummaryAnswer | AnalysisAnswer)
    return answer


def _pattern(quote: str) -> re.Pattern[str]:
    """A quote as a pattern: exact characters, any run of whitespace matching any run of whitespace."""
    parts = [re.escape(p) for p in quote.split()]
    return re.compile(r"\s+".join(parts))


def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Every occurrence of ``quote`` in ``text`` (whitespace-tolerant, case-sensitive), as offsets."""
    if not quote.strip():
        return []
    return [m.span() for m in _pattern(quote).finditer(text)]


def _located(text: str, quotes: Iterable[tuple[str, str]]) -> tuple[list[tuple[int, int, str, str]], int]:
    """Every occurrence of each (quote, type), and how many quotes were found nowhere."""
    found: list[tuple[int, int, str, str]] = []
    missing = 0
    for quote, kind in quotes:
        spans = locate(text, quote)
        if not spans:
            missing += 1
        found.extend((start, end, kind, text[start:end]) for start, end in spans)
    return found, missing


def phi_spans(answer: PhiAnswer, text: str) -> tuple[list[PhiSpan], QuoteError | None]:
    """Spans of every quoted identifier, and an error if some quotes are not in the text.

    The spans that were found are returned even with an error: removing verified text can only make the
    output safer.
    """
    found, missing = _located(text, ((item.text, item.type.value) for item in answer.phi))
    spans = [PhiSpan(start, end, PhiType(kind), SpanSource.LLM) for start, end, kind, _ in found]
    error = QuoteError(missing, len(answer.phi), "identifiers") if missing else None
    return spans, error


def _grounded(text: str, end: int, quote: str | None) -> str | None:
    """``quote`` as the note writes it after offset ``end`` on the same line, or None when it is not there."""
    if quote is None or not quote.strip():
        return None
    line_end = text.find("\n", end)
    window = text[end : min(end + WINDOW_CHARS, line_end if line_end >= 0 else len(text))]
    found = re.compile(_pattern(quote).pattern, re.IGNORECASE).search(window)
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


def clean_summary(summary: str, max_words: int) -> str:
    """The summary without control characters, cut to ``max_words`` words."""
    words = _CONTROL.sub(" ", summary).split()
    return " ".join(words[:max_words])
