"""Span types passed between recognizers, engines and the output writer.

Offsets are Python string indices (Unicode code points) into the text they were found in, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from medbatch.spec import PhiType


class SpanSource(StrEnum):
    """Who found a PHI span."""

    RULE = "rule"
    LLM = "llm"
    BOTH = "rule+llm"  # the rules and the model found overlapping spans


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


@dataclass(frozen=True, slots=True)
class Entity:
    """A clinical entity in the analyzed text (``text_deid`` unless analyzeRawText is set)."""

    start: int
    end: int
    type: str
    text: str

    def shifted(self, by: int) -> Entity:
        """The same entity in a text that starts ``by`` characters earlier."""
        return Entity(self.start + by, self.end + by, self.type, self.text)


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
