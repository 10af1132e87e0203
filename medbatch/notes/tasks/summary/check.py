"""Check a model's summary against its note: every problem and medication it names must be in the note,
with the note's polarity.

A model can write fluent text that the note does not support: a drug it never mentions, or "has chest
pain" where the note says "denies chest pain". The check reads the summary with the CPU NER and, for each
problem and medication, looks for it in the note (as written, case and spacing aside, or as another term
of the same vocabulary concept). A named entity found nowhere, or stated present where every mention in
the note is negated (or the reverse), fails the summary; the note core then writes the CPU summary
instead and records why. The check is deliberately strict: a false alarm costs a less fluent summary, a
miss puts a wrong clinical statement in the output.
"""

from __future__ import annotations

import re
from enum import StrEnum

from medbatch.notes.spans import Assertion, Entity
from medbatch.notes.tasks.ner import extract_entities
from medbatch.notes.tasks.ner.assertion import AssertionContext

CHECKED_TYPES = ("PROBLEM", "MEDICATION")


class SummaryProblem(StrEnum):
    """Why a model's summary was replaced (a reason, never the text that failed)."""

    PROBLEM_NOT_IN_NOTE = "problem_not_in_note"
    MEDICATION_NOT_IN_NOTE = "medication_not_in_note"
    NEGATED_AS_PRESENT = "negated_as_present"
    PRESENT_AS_NEGATED = "present_as_negated"


_NOT_IN_NOTE = {
    "PROBLEM": SummaryProblem.PROBLEM_NOT_IN_NOTE,
    "MEDICATION": SummaryProblem.MEDICATION_NOT_IN_NOTE,
}


def _mentions(note: str, term: str) -> list[tuple[int, int]]:
    """Where ``term`` occurs in ``note`` as whole words, ignoring case and runs of whitespace."""
    words = [re.escape(w) for w in term.split()]
    if not words:
        return []
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)
    return [m.span() for m in pattern.finditer(note)]


class _NoteIndex:
    """The note's mentions of a summary's entities, and what the note asserts of them."""

    def __init__(self, note: str) -> None:
        self.note = note
        self.context = AssertionContext(note)
        self._by_code: dict[str, list[Entity]] | None = None

    def _coded(self, code: str) -> list[tuple[int, int]]:
        if self._by_code is None:  # the note's own NER runs only when a summary term is not verbatim
            self._by_code = {}
            for entity in extract_entities(self.note, CHECKED_TYPES):
                if entity.code is not None:
                    self._by_code.setdefault(entity.code, []).append(entity)
        return [(e.start, e.end) for e in self._by_code.get(code, [])]

    def problem(self, entity: Entity) -> SummaryProblem | None:
        spans = _mentions(self.note, entity.text) or (self._coded(entity.code) if entity.code else [])
        if not spans:
            return _NOT_IN_NOTE[entity.type]
        negated = [self.context.of(start, end) is Assertion.ABSENT for start, end in spans]
        if entity.assertion is Assertion.PRESENT and all(negated):
            return SummaryProblem.NEGATED_AS_PRESENT
        if entity.assertion is Assertion.ABSENT and not any(negated):
            return SummaryProblem.PRESENT_AS_NEGATED
        return None


def check_summary(note: str, summary: str) -> SummaryProblem | None:
    """The first problem of ``summary`` as a summary of ``note``, or None when it holds."""
    named = extract_entities(summary, CHECKED_TYPES)
    if not named:
        return None
    index = _NoteIndex(note)
    for entity in named:
        problem = index.problem(entity)
        if problem is not None:
            return problem
    return None
