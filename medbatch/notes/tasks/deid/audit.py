"""The leak audit: what still looks like PHI in the text a note keeps, counted by type, never written.

Recall measured on someone else's corpus says little about the notes a platform is about to release. The
audit is a second opinion that needs no gold: after replacement it reads the words the rules kept (the
source text outside every PHI span, which is what the output holds verbatim) and counts what a reviewer
would stop at, with signals simpler and more eager than the recognizers':

- **NAME**: a word in a name position the rules passed over: after a title (``Dr``, ``Mrs``) or an
  initial (any word but a clinical one), after a role, relative or ``per`` (a listed name or a word in no
  vocabulary);
- **LOCATION**: a US place name that is no English or frequent word, or a word in no vocabulary after ``to``,
  ``from`` or ``at``;
- **DATE**: a full date, a month and day, a day and month, a month alone after ``in`` or before ``of``,
  or a month/day after a word that introduces a date (a year alone is no PHI under Safe Harbor);
- **ID**: a run of 6+ digits, digits after a number sign, or a phone number's last seven after a word
  of calling, with no unit after it;
- and, in a batch job, what the corpus memory knows but the note kept (in any case), by its type.

Counts only: the audit returns numbers, and nothing it looked at leaves this module.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.lexicons import Lexicons, lexicons
from medbatch.notes.tasks.deid.locales.en_us import MONTHS_ABBR, MONTHS_FULL
from medbatch.notes.tasks.deid.memory import CorpusMemory
from medbatch.notes.tasks.deid.names import CREDENTIALS, PEOPLE, TITLES
from medbatch.notes.tasks.deid.tokens import Word, between, words
from medbatch.spec import PhiType

SUSPECT_TYPES = (PhiType.NAME, PhiType.LOCATION, PhiType.DATE, PhiType.ID)

_TITLES = TITLES - CREDENTIALS  # "MD will see": a credential after a name is no title before one
_PLACE_AFTER = frozenset(["to", "from", "at"])
_FUNCTION = frozenset(
    "a an and the of in on at to for from with by or is was he she it his her pt per not no".split()
)
# Single capitals that are words or clinical letters in text without case, not initials.
_NOT_INITIAL = frozenset("a i o x".split())
_DATE_CUES = r"(?:on|since|from|until|till|dated|by|last|seen|admitted|discharged|born|of)"
_MONTH = "|".join(sorted({m.lower() for m in MONTHS_FULL} | {m.lower() for m in MONTHS_ABBR}, key=len)[::-1])
_UNIT = r"(?:mg|mcg|ug|ml|cc|l|g|gm|gms|kg|lb|lbs|units?|u|meq|mmol|kcal|cals?|mm|cm|ms|hrs?|mins?|x|%)\b"
_DATES = [
    re.compile(r"(?<![\d/.-])(?P<m>\d{1,2})[/-](?P<d>\d{1,2})[/-](?:\d{4}|\d{2})(?![\d/%-])(?!\s*%)"),
    re.compile(rf"(?i)\b(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?!\s*{_UNIT})"),
    re.compile(rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b"),
    re.compile(
        r"(?i)\b(?:in|early|late|mid)\s+(?:january|february|april|june|july|august|september|october|"
        r"november|december)\b"
    ),
    re.compile(
        r"(?i)\b(?:january|february|april|june|july|august|september|october|november|december)"
        r"\s+of\b"
    ),
    re.compile(rf"(?i)\b{_DATE_CUES}\s+(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})(?![\d/])"),
]
# Lab values, fluid balances and doses run to 4 or 5 digits, and ranges look like a phone number's last
# seven ("500-1000"); identifiers are longer or follow a number sign, phone numbers follow a word of
# calling.
_IDS = re.compile(
    r"(?i)(?:(?<![\d.,/:-])(?:\d{6,}|(?<=#)\s?\d{3,})"
    r"|\b(?:at|phone|cell|tel|call|number|pager|beeper|contact|reach|x)\s+(?P<phone>\d{3}[-.]\d{4}))"
    r"(?!\d|[.,]\d)(?!\s*" + _UNIT + ")"
)


@dataclass
class NoteAudit:
    """What one note's kept text still looks like, by type, and how many words it kept."""

    suspects: Counter[PhiType] = field(default_factory=Counter)
    words: int = 0

    @property
    def total(self) -> int:
        """Suspects of every type."""
        return sum(self.suspects.values())

    @property
    def rate(self) -> float:
        """Suspects per word kept (0 for a note that kept none)."""
        return self.total / self.words if self.words else 0.0


def _valid_month_day(match: re.Match[str]) -> bool:
    groups = match.groupdict()
    if "m" not in groups or groups["m"] is None:
        return True
    return 1 <= int(groups["m"]) <= 12 and 1 <= int(groups["d"]) <= 31


def _joined(text: str, left: Word, right: Word) -> bool:
    gap = between(text, left, right)
    return left.line == right.line and len(gap) <= 3 and gap.strip(" \t.:,") == ""


def _listed(word: Word) -> bool:
    """A Census name that is no English, clinical or frequent word."""
    return word.name and not word.common and not word.everyday and len(word.low) >= 3


def _person(text: str, prev: Word, word: Word, cased: bool) -> bool:
    """``word`` stands where a name would, and nothing says it is something else."""
    if word.clinical or word.low in _FUNCTION or word.low in CREDENTIALS or len(word.low) < 2:
        return False
    if (cased and not word.text[0].isupper()) or not _joined(text, prev, word):
        return False
    if prev.low in _TITLES:
        return not word.common or word.name
    if prev.initial and prev.low not in _NOT_INITIAL:
        # Single letters are abbreviations in notes ("T max", "L hand"): only a listed name after one.
        return _listed(word)
    if prev.low in PEOPLE:
        return _listed(word) or (word.unknown and len(word.low) >= 3)
    return prev.low == "per" and _listed(word)


def _place(text: str, prev: Word | None, word: Word, cased: bool) -> bool:
    """A US place name that is no other word, or, in a note with case, a capitalised word in no
    vocabulary after a preposition of place (in text all in one case that is mostly abbreviations)."""
    if cased and not word.text[0].isupper():
        return False
    if word.place and not word.known and len(word.low) >= 3:
        return True
    return (
        cased
        and prev is not None
        and prev.low in _PLACE_AFTER
        and word.unknown
        and len(word.low) >= 2
        and _joined(text, prev, word)
    )


def audit_note(
    text: str,
    phi: Sequence[PhiSpan],
    memory: CorpusMemory | None = None,
    lists: Lexicons | None = None,
) -> NoteAudit:
    """Count what looks like PHI in ``text`` outside the spans ``phi`` removes."""
    lists = lists or lexicons()
    removed = bytearray(len(text) + 1)
    for span in phi:
        removed[span.start : span.end] = b"\x01" * (span.end - span.start)
    found = NoteAudit()
    flagged = bytearray(len(text) + 1)

    def count(start: int, end: int, kind: PhiType) -> None:
        if not any(removed[start:end]) and not any(flagged[start:end]):
            flagged[start:end] = b"\x01" * (end - start)
            found.suspects[kind] += 1

    if memory is not None:
        for span in memory.find(text, phi, any_case=True):
            count(span.start, span.end, span.type)
    all_words = words(text, lists)
    cased = any(c.isupper() for c in text) and any(c.islower() for c in text)
    for i, word in enumerate(all_words):
        if removed[word.start]:
            continue
        found.words += 1
        prev = all_words[i - 1] if i else None
        if prev is not None and _person(text, prev, word, cased):
            count(word.start, word.end, PhiType.NAME)
        elif _place(text, prev, word, cased):
            count(word.start, word.end, PhiType.LOCATION)
    for pattern in _DATES:
        for match in pattern.finditer(text):
            if _valid_month_day(match):
                count(match.start(), match.end(), PhiType.DATE)
    for match in _IDS.finditer(text):
        start = match.start("phone") if match.group("phone") else match.start()
        count(start, match.end(), PhiType.ID)
    return found
