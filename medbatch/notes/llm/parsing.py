"""Parse and verify model answers. Nothing the model says is trusted until code has found it in the text.

Every failure is a ``ParseError`` whose message is safe to log and to write to an error column: it says
what was wrong (invalid JSON, a field of the wrong type, quotes not found in the note) and never repeats
what the model wrote, which may be note text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from medbatch.notes.llm.schemas import PhiAnswer
from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.stage import ParseError, QuoteError
from medbatch.spec import PhiType

AnswerT = TypeVar("AnswerT", bound=BaseModel)

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_answer(model: type[AnswerT], raw: str) -> AnswerT:
    """The answer in ``raw`` (the model's output), validated as ``model``."""
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
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise ParseError(f"answer does not match the schema: {where}: {first['msg']}") from None


def quote_pattern(quote: str) -> re.Pattern[str]:
    """A quote as a pattern: exact characters, any run of whitespace matching any run of whitespace."""
    parts = [re.escape(p) for p in quote.split()]
    return re.compile(r"\s+".join(parts))


def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Every occurrence of ``quote`` in ``text`` (whitespace-tolerant, case-sensitive), as offsets."""
    if not quote.strip():
        return []
    return [m.span() for m in quote_pattern(quote).finditer(text)]


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
