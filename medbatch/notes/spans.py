"""Span types passed between recognizers, engines and the output writer.

Offsets are Python string indices (Unicode code points) into the text they were found in, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from medbatch.spec import PhiType


class SpanSource(StrEnum):
    """Who found a PHI span."""

    RULE = "rule"
    LLM = "llm"
    BOTH = "rule+llm"  # the rules and the model found overlapping spans
    MEMORY = "memory"  # the corpus memory alone: a value the rules found with evidence in another note


@dataclass(frozen=True, slots=True)
class PhiSpan:
    """A PHI span in the source text."""

    start: int
    end: int
    type: PhiType
    source: SpanSource = SpanSource.RULE

    def shifted(self, by: int) -> PhiSpan:
        """The same span in a text that starts ``by`` characters earlier (chunk -> note offsets)."""
        return PhiSpan(self.start + by, self.end + by, self.type, self.source)


class Assertion(StrEnum):
    """What the note says of an entity (ConText's categories)."""

    PRESENT = "present"
    ABSENT = "absent"  # negated: "denies chest pain", "no evidence of pneumonia"
    POSSIBLE = "possible"  # "possible pneumonia", "rule out PE"
    CONDITIONAL = "conditional"  # "return if fever develops"
    HISTORICAL = "historical"  # "history of MI", the past history section
    FAMILY = "family"  # "mother with breast cancer", the family history section


class Section(StrEnum):
    """The part of the note an entity sits in (None before any recognized header)."""

    CHIEF_COMPLAINT = "chief_complaint"
    HISTORY_OF_PRESENT_ILLNESS = "history_of_present_illness"
    PAST_HISTORY = "past_history"
    MEDICATIONS = "medications"
    ALLERGIES = "allergies"
    FAMILY_HISTORY = "family_history"
    SOCIAL_HISTORY = "social_history"
    REVIEW_OF_SYSTEMS = "review_of_systems"
    PHYSICAL_EXAM = "physical_exam"
    RESULTS = "results"
    ASSESSMENT_AND_PLAN = "assessment_and_plan"


@dataclass(frozen=True, slots=True)
class MedicationAttributes:
    """What a note says about how a medication is given, as written ("25", "mg", "PO", "BID", ...)."""

    dose: str | None = None
    unit: str | None = None
    route: str | None = None
    frequency: str | None = None
    duration: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """A clinical entity in the analyzed text (``text_deid`` unless analyzeRawText is set).

    ``assertion``, ``section``, ``code`` and ``attributes`` are filled in by ``ner.annotate`` on the whole
    analyzed text, whichever engine found the span; a model may state an assertion and attributes first
    (None: not stated), which annotate keeps.
    """

    start: int
    end: int
    type: str
    text: str
    assertion: Assertion | None = None
    section: Section | None = None
    code: str | None = None
    code_system: str | None = None
    attributes: MedicationAttributes | None = None

    def shifted(self, by: int) -> Entity:
        """The same entity in a text that starts ``by`` characters earlier."""
        return replace(self, start=self.start + by, end=self.end + by)


def merge_phi(spans: list[PhiSpan]) -> list[PhiSpan]:
    """Sorted, non-overlapping PHI spans.

    Overlapping spans (nested ones included) are replaced by their union, typed after the longest member:
    when two recognizers disagree about where an identifier ends, removing both extents is the safe answer.
    The union's source says who found it: ``rule``, ``llm``, or ``rule+llm`` when both layers did, which is
    how one measures what the model adds over the rules.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    merged: list[PhiSpan] = []
    group: list[PhiSpan] = []
    for span in ordered:
        if group and span.start < max(s.end for s in group):
            group.append(span)
            continue
        if group:
            merged.append(_union(group))
        group = [span]
    if group:
        merged.append(_union(group))
    return merged


def _union(group: list[PhiSpan]) -> PhiSpan:
    if len(group) == 1:
        return group[0]
    longest = max(group, key=lambda s: s.end - s.start)
    sources = {s.source for s in group}
    source = sources.pop() if len(sources) == 1 else SpanSource.BOTH
    return PhiSpan(min(s.start for s in group), max(s.end for s in group), longest.type, source)
