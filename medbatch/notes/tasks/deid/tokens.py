"""Words of a note with what the lexicons say of each: the input of the name and place recognizers.

One pass of one linear regex; every later rule looks at a word and its neighbours, so a note's cost
grows with its length and nothing else.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from medbatch.notes.tasks.deid.lexicons import Lexicons

# Letters of any script with inner apostrophes and hyphens (O'Neil, Hart-Bellamy, Zoë, Muñoz-Çelik);
# bounded so that no run of letters can make a single match expensive. A letter is a word character that
# is no digit or underscore, or a combining accent (text written decomposed): an ASCII-only class cut
# names at their first accented letter and left the rest in the output.
# A single lower-case letter ("a", the "s" of "s/p") is no word here: it is never a name or a cue, and text
# made of them would otherwise cost a word each.
_LETTER = r"(?:[^\W\d_]|[\u0300-\u036f])"
_WORD = re.compile(
    rf"(?<![^\W_])(?<![\u0300-\u036f])"
    rf"(?:{_LETTER}(?:{_LETTER}|'){{1,40}}(?:-{_LETTER}(?:{_LETTER}|'){{0,40}}){{0,3}}"
    rf"|[A-ZÀ-ÖØ-Þ](?!{_LETTER}|'))"
)


def _parts(low: str) -> list[str]:
    return [p for p in low.split("-") if p]


class Flags(NamedTuple):
    """What the lexicons say of a word; shared by its every occurrence in a note."""

    low: str  # lower case, without a possessive 's
    name: bool  # in the first-name or surname lists (every part of a hyphenated word)
    first: bool  # (its first part) in the first-name list
    common: bool  # an English, clinical or drug word
    known: bool  # common, or a frequent English word
    everyday: bool  # among the most frequent English words
    clinical: bool  # a clinical or drug word
    place: bool  # a US place name
    unknown: bool  # in no list at all: a misspelling, an abbreviation, or a name the lists do not have


class Word(NamedTuple):
    """One word of a note: where it stands, then its ``Flags`` (a tuple: a note has thousands)."""

    start: int
    end: int
    text: str
    line: int  # index of the line it stands on
    low: str
    name: bool
    first: bool
    common: bool
    known: bool
    everyday: bool
    clinical: bool
    place: bool
    unknown: bool

    @property
    def initial(self) -> bool:
        """A single capital letter, as in ``J. Smith``."""
        return len(self.text) == 1 and self.text.isupper()


def _flags(raw: str, lex: Lexicons) -> Flags:
    low = raw.lower()
    if low.endswith("'s"):
        low = low[:-2]
    low = low.strip("'")
    parts = _parts(low) or [low]
    commons = [lex.is_common(p) for p in parts]
    name = all(lex.is_name(p) for p in parts)
    known = all(common or p in lex.frequent for p, common in zip(parts, commons, strict=True))
    place = low in lex.places
    return Flags(
        low=low,
        name=name,
        first=parts[0] in lex.first_names,
        # "GU-foley", "A-LINE": a clinical part makes the whole word clinical
        common=all(commons) or any(p in lex.clinical for p in parts),
        known=known,
        everyday=lex.is_everyday(low),
        clinical=low in lex.clinical,
        place=place,
        unknown=not (name or known or place),
    )


class _FlagCache:
    """Flags by written word, shared by the notes a worker processes: a corpus repeats its vocabulary, and
    the lookups are most of the cost of a note. Bounded; emptied when full or when the lexicons change."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lex: Lexicons | None = None
        self.flags: dict[str, Flags] = {}

    def of(self, lex: Lexicons) -> dict[str, Flags]:
        """The cache for ``lex``, emptied first if it belonged to other lexicons or is full."""
        if self.lex is not lex or len(self.flags) > self.limit:
            self.lex, self.flags = lex, {}
        return self.flags


_CACHE = _FlagCache(limit=200_000)


def words(text: str, lex: Lexicons) -> list[Word]:
    """The words of ``text`` with their lexicon flags."""
    out: list[Word] = []
    seen = _CACHE.of(lex)
    line = 0
    cursor = 0
    for match in _WORD.finditer(text):
        line += text.count("\n", cursor, match.start())
        cursor = match.start()
        raw = match.group()
        flags = seen.get(raw)
        if flags is None:
            flags = seen[raw] = _flags(raw, lex)
        out.append(Word(match.start(), match.end(), raw, line, *flags))
    return out


def between(text: str, left: Word, right: Word) -> str:
    """The characters separating two words."""
    return text[left.end : right.start]
