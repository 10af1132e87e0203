"""Assertion of each entity, by the ConText algorithm (Harkema et al., 2009; NegEx, Chapman et al., 2001).

A trigger phrase ("denies", "no evidence of", "history of", "mother") modifies the entities in its scope:
forward triggers the ones after it, backward triggers the ones before it, up to the sentence's end or a
termination term ("but", "however", "which"). Pseudo-triggers ("no change", "not only", "gram negative")
look like triggers and are not. The phrase lists are the published NegEx and ConText lexicons' categories,
written out here; see docs/ner.md for why medbatch implements ConText itself rather than calling
medspaCy's.

Cost: one regular-expression pass per category over the text and a binary search per entity, so a note
is linear in its length however many triggers and entities it holds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from medbatch.notes.spans import Assertion

NEGATION_FORWARD = (
    "no",
    "not",
    "denies",
    "denied",
    "denying",
    "deny",
    "without",
    "absence of",
    "negative for",
    "no evidence of",
    "no signs of",
    "no sign of",
    "no symptoms of",
    "no history of",
    "no h/o",
    "free of",
    "never",
    "never had",
    "none",
    "neither",
    "nor",
    "rules out",
    "ruled out for",
    "ruled him out for",
    "ruled her out for",
    "fails to reveal",
    "failed to reveal",
    "did not reveal",
    "did not show",
    "does not show",
    "no findings of",
    "no complaints of",
    "not demonstrate",
    "does not appear",
    "doesn't",
    "didn't",
    "isn't",
    "wasn't",
    "aren't",
    "weren't",
    "haven't",
    "hasn't",
    "cannot see",
    "unremarkable for",
    "with no",
    "resolution of",
    "free from",
)
_NEGATION_BACKWARD = (
    "is ruled out",
    "are ruled out",
    "was ruled out",
    "were ruled out",
    "has been ruled out",
    "have been ruled out",
    "ruled out",
    "unlikely",
    "free",
    "was negative",
    "is negative",
    "are negative",
    "were negative",
    "not seen",
    "not present",
    "not identified",
    "absent",
    "resolved",
    "not detected",
    "not found",
    "not appreciated",
    "not visualized",
    "not noted",
    "not evident",
    "was not found",
    "is not seen",
    "negative",
    "not demonstrated",
)
_PSEUDO = (
    "no increase",
    "no change",
    "no significant change",
    "no interval change",
    "no definite change",
    "not only",
    "not necessarily",
    "not certain if",
    "not certain whether",
    "without difficulty",
    "gram negative",
    "gram-negative",
    "no further",
    "not drain",
    "without further",
    "not extend",
    "not cause",
    "no suspicious change",
    "not been ruled out",
    "not ruled out",
    "not rule out",
    "not been excluded",
    "not be excluded",
    "not excluded",
    "cannot be excluded",
    "can not be excluded",
    "not clear",
    "no longer",
    "not to be",
    "nothing but",
    "not just",
)
POSSIBLE_FORWARD = (
    "possible",
    "possibly",
    "probable",
    "probably",
    "may",
    "might",
    "could be",
    "could have",
    "suspicious for",
    "suspicion of",
    "suspect",
    "suspected",
    "concern for",
    "concerning for",
    "questionable",
    "question of",
    "rule out",
    "r/o",
    "evaluate for",
    "evaluation for",
    "worrisome for",
    "differential diagnosis",
    "ddx",
    "cannot rule out",
    "can not rule out",
    "cannot exclude",
    "can not exclude",
    "not ruled out",
    "not been ruled out",
    "not rule out",
    "likely",
    "presumed",
    "presumably",
    "consider",
    "suggestive of",
    "suggests",
    "versus",
    "vs",
)
_POSSIBLE_BACKWARD = (
    "is possible",
    "is suspected",
    "was suspected",
    "not excluded",
    "not been excluded",
    "cannot be excluded",
    "can not be excluded",
    "is likely",
    "is questionable",
    "was questioned",
    "is not excluded",
)
_POSSIBLE_PSEUDO = ("vs:", "may be discharged", "may go home", "may return", "may resume")
_CONDITIONAL_FORWARD = (
    "if",
    "should",
    "in case",
    "return for",
    "return if",
    "call if",
    "come back if",
    "come back for",
    "seek medical attention if",
    "as needed for",
    "prn for",
    "in the event of",
    "unless",
)
HISTORICAL_FORWARD = (
    "history of",
    "hx of",
    "h/o",
    "past history of",
    "past medical history of",
    "status post",
    "s/p",
    "previous",
    "previously",
    "prior",
    "remote",
    "known history of",
)
_HISTORICAL_BACKWARD = ("in the past", "years ago", "months ago", "previously", "in childhood")
_HISTORICAL_PSEUDO = (
    "history and physical",
    "history and examination",
    "history taking",
    "social history",
    "history of present illness",
    "clinical history",
    "family history",
)
_FAMILY_BOTH = (
    "family history of",
    "family history",
    "fh of",
    "fhx of",
    "mother",
    "father",
    "brother",
    "sister",
    "sibling",
    "siblings",
    "aunt",
    "uncle",
    "grandmother",
    "grandfather",
    "maternal",
    "paternal",
    "mom",
    "dad",
    "cousin",
    "parents",
    "parent",
    "daughter",
    "son",
    "niece",
    "nephew",
    "twin",
)
_FAMILY_PSEUDO = (
    "family at bedside",
    "mother at bedside",
    "father at bedside",
    "son at bedside",
    "daughter at bedside",
    "family meeting",
    "family members present",
)
_TERMINATION = (
    "but",
    "however",
    "although",
    "though",
    "except",
    "aside from",
    "apart from",
    "yet",
    "still",
    "which",
    "who",
    "whose",
    "presents",
    "presenting",
    "presented",
    "complains",
    "complaining",
    "secondary to",
    "due to",
    "because",
    "cause of",
    "caused",
    "causing",
    "as a result of",
    "source of",
    "etiology of",
    "reason for",
    "positive for",
    "other than",
    "with the exception of",
    "significant for",
    "notable for",
    "otherwise",
    "reports",
    "endorses",
    "admits",
)


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """Any of ``phrases`` as whole words, case-insensitive, longest first; a space in a phrase matches
    any run of white space (notes keep their layout as spaces: "negative   for")."""
    alternatives = "|".join(
        re.escape(p).replace(r"\ ", r"\s+") for p in sorted(set(phrases), key=len, reverse=True)
    )
    return re.compile(rf"(?<![\w/])(?:{alternatives})(?![\w/])", re.IGNORECASE)


@dataclass(frozen=True)
class _Rule:
    category: Assertion
    forward: re.Pattern[str] | None
    backward: re.Pattern[str] | None
    pseudo: re.Pattern[str]


_PSEUDO_PATTERN = phrase_pattern(_PSEUDO)
# Every category's pseudo-triggers: phrases that look like a trigger and are not one.
PSEUDO_TRIGGERS = phrase_pattern(_PSEUDO + _POSSIBLE_PSEUDO + _HISTORICAL_PSEUDO + _FAMILY_PSEUDO)
# Checked in this order: the first category whose trigger reaches the entity wins. Negation first (a
# negated finding is absent in anyone); family before possible and historical (a relative's possible or
# past disease is still the relative's).
_RULES = (
    _Rule(
        Assertion.ABSENT,
        phrase_pattern(NEGATION_FORWARD),
        phrase_pattern(_NEGATION_BACKWARD),
        _PSEUDO_PATTERN,
    ),
    _Rule(
        Assertion.FAMILY,
        phrase_pattern(_FAMILY_BOTH),
        phrase_pattern(_FAMILY_BOTH),
        phrase_pattern(_FAMILY_PSEUDO),
    ),
    _Rule(
        Assertion.POSSIBLE,
        phrase_pattern(POSSIBLE_FORWARD),
        phrase_pattern(_POSSIBLE_BACKWARD),
        phrase_pattern(_POSSIBLE_PSEUDO),
    ),
    _Rule(
        Assertion.CONDITIONAL,
        phrase_pattern(_CONDITIONAL_FORWARD),
        None,
        phrase_pattern(("if any", "if not")),
    ),
    _Rule(
        Assertion.HISTORICAL,
        phrase_pattern(HISTORICAL_FORWARD),
        phrase_pattern(_HISTORICAL_BACKWARD),
        phrase_pattern(_HISTORICAL_PSEUDO),
    ),
)
_TERMINATION_PATTERN = phrase_pattern(_TERMINATION)
# Sentence ends: scope never crosses them. A colon ends a header's scope ("Denies: ..." is still a
# trigger for what follows on its line, which is the same sentence). Notes whose line breaks were lost
# keep their layout as runs of spaces: a header or a numbered item after two spaces starts anew too.
_SENTENCE_END = re.compile(
    r"[.!?;]+(?=\s|$)|\n\s*\n|\n(?=\s*[A-Z][A-Za-z /]{1,40}:)"
    r"|[ \t]{2,}(?=[A-Z][A-Z /()]{1,40}:|\d{1,2}[.)][ \t])"
)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


class _Boundaries:
    """Sorted offsets (sentence ends, terminations) with nearest-before and nearest-after lookups."""

    def __init__(self, offsets: list[int]) -> None:
        self._offsets = sorted(offsets)

    def any_between(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self._offsets, start)
        return index < len(self._offsets) and self._offsets[index] < end


def _without_pseudo(triggers: list[tuple[int, int]], pseudo: list[tuple[int, int]]) -> list[tuple[int, int]]:
    starts = [s for s, _ in pseudo]
    kept = []
    for start, end in triggers:
        index = bisect.bisect_right(starts, start) - 1
        # A pseudo phrase that covers the trigger (they may start at the same place) cancels it.
        covered = any(
            pseudo[i][0] <= start and pseudo[i][1] >= end for i in (index, index - 1) if 0 <= i < len(pseudo)
        )
        if not covered:
            kept.append((start, end))
    return kept


class AssertionContext:
    """The triggers, terminations and sentence ends of one text, to ask about any number of spans."""

    def __init__(self, text: str) -> None:
        self._ends = _Boundaries([m.start() for m in _SENTENCE_END.finditer(text)])
        self._terminations = _Boundaries([m.start() for m in _TERMINATION_PATTERN.finditer(text)])
        # Per category: the forward triggers' end offsets and the backward triggers' start offsets,
        # sorted (finditer yields non-overlapping matches in order), for a binary search per entity.
        self._rules: list[tuple[Assertion, list[int], list[int]]] = []
        for rule in _RULES:
            pseudo = _spans(rule.pseudo, text)
            forward = _without_pseudo(_spans(rule.forward, text), pseudo) if rule.forward else []
            backward = _without_pseudo(_spans(rule.backward, text), pseudo) if rule.backward else []
            self._rules.append((rule.category, [e for _, e in forward], [s for s, _ in backward]))

    def _reaches_forward(self, trigger_ends: list[int], start: int) -> bool:
        # The nearest trigger that ends before the entity; nothing that ends its scope between them.
        index = bisect.bisect_right(trigger_ends, start) - 1
        if index < 0:
            return False
        trigger_end = trigger_ends[index]
        return not (
            self._ends.any_between(trigger_end, start) or self._terminations.any_between(trigger_end, start)
        )

    def _reaches_backward(self, trigger_starts: list[int], end: int) -> bool:
        index = bisect.bisect_left(trigger_starts, end)
        if index >= len(trigger_starts):
            return False
        trigger_start = trigger_starts[index]
        return not (
            self._ends.any_between(end, trigger_start) or self._terminations.any_between(end, trigger_start)
        )

    def of(self, start: int, end: int) -> Assertion:
        """The assertion of the span ``[start, end)``."""
        for category, forward, backward in self._rules:
            if self._reaches_forward(forward, start) or self._reaches_backward(backward, end):
                return category
        return Assertion.PRESENT
