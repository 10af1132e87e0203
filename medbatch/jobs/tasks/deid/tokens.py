"""Words of a note with what the lexicons say of each: the input of the name and place recognizers.

One pass of one linear regex; every later rule looks at a word and its neighbours, so a note's cost
grows with its length and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medbatch.jobs.tasks.deid.lexicons import Lexicons

# Letters with inner apostrophes and hyphens (O'Neil, Forman-Lyons); bounded so that no run of letters can
# make a single match expensive.
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z']{0,40}(?:-[A-Za-z][A-Za-z']{0,40}){0,3}")


@dataclass(slots=True)
class Word:
    """One word of a note."""

    start: int
    end: int
    text: str
    low: str  # lower case, without a possessive 's
    line: int  # index of the line it stands on
    name: bool  # in the first-name or surname lists
    first: bool  # in the first-name list
    common: bool  # an English, clinical or drug word
    known: bool  # common, or a frequent English word
    everyday: bool  # among the most frequent English words
    clinical: bool  # a clinical or drug word
    place: bool  # a US place name

    @property
    def unknown(self) -> bool:
        """In no list at all: a misspelling, an abbreviation, or a name the lists do not have."""
        return not (self.name or self.known or self.place)

    @property
    def initial(self) -> bool:
        """A single letter, as in ``J. Smith``."""
        return len(self.text) == 1


def _parts(low: str) -> list[str]:
    return [p for p in low.split("-") if p]


def words(text: str, lex: Lexicons) -> list[Word]:
    """The words of ``text`` with their lexicon flags."""
    out: list[Word] = []
    line = 0
    cursor = 0
    for match in _WORD.finditer(text):
        line += text.count("\n", cursor, match.start())
        cursor = match.start()
        raw = match.group()
        low = raw.lower()
        if low.endswith("'s"):
            low = low[:-2]
        low = low.strip("'")
        parts = _parts(low) or [low]
        out.append(
            Word(
                start=match.start(),
                end=match.end(),
                text=raw,
                low=low,
                line=line,
                name=all(lex.is_name(p) for p in parts),
                first=parts[0] in lex.first_names,
                common=all(lex.is_common(p) for p in parts),
                known=all(lex.is_known(p) for p in parts),
                everyday=lex.is_everyday(low),
                clinical=low in lex.clinical,
                place=low in lex.places,
            )
        )
    return out


def between(text: str, left: Word, right: Word) -> str:
    """The characters separating two words."""
    return text[left.end : right.start]
