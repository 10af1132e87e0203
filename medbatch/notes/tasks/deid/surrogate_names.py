"""Surrogate names that keep people apart and read true.

Each token of a name is replaced on its own, keyed by the token and its role, so "Rafael Okafor", a later
"Mr. Okafor" and a later "Rafael" map to the same surrogate tokens. The role is the token's slot where the
name shows it (the last word of a full name, the first of "Okafor, Rafael", the word after "Mr." are
surnames) and otherwise what the lists know of the word: a female or male first name gets a first name of
the same sex (the sex it is more often given to), any other first name a first name, anything else a
surname. Titles and credentials ("Dr.", "MD") stay as they are; initials become initials. The pools are the Census 1990 lists (4,275 female and 1,219 male
first names, the 20,000 most frequent surnames), so two people rarely share a surrogate: a collision
needs the same keyed pick among thousands (``tests/notes/deid/test_surrogates.py`` measures the rate).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from medbatch.notes.tasks.deid.lexicons import data_lines, lexicons
from medbatch.notes.tasks.deid.names import CREDENTIALS, TITLES

# A keyed choice from a pool, never the original itself: (kind, value, pool) -> choice.
Pick = Callable[[str, str, Sequence[str]], str]
# A name word: letters of any script, with inner apostrophes (O'Neil is one word, not "O" and "Neil").
_PARTS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_HONORIFICS = frozenset(["mr", "mrs", "ms", "miss", "mister"])
_INITIALS = "ABCDEFGHJKLMNPRSTW"


@dataclass(frozen=True)
class NamePools:
    """Surrogate pools, and the sex of a known first name."""

    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]

    @property
    def first(self) -> tuple[str, ...]:
        """Every first name, for one whose sex is unknown."""
        return self.female + self.male

    def pool(self, token: str, surname_slot: bool) -> tuple[str, tuple[str, ...]]:
        """The role of ``token`` (lower case) and the pool its surrogate comes from."""
        if surname_slot:
            return "surname", self.surnames
        token = _ascii(token)  # "zoë" is the listed "zoe"
        female, male = _ranks().female.get(token), _ranks().male.get(token)
        if female is not None or male is not None:
            return (
                ("male", self.male)
                if female is None or (male is not None and male < female)
                else (
                    "female",
                    self.female,
                )
            )
        if token in lexicons().first_names:
            return "first", self.first
        return "surname", self.surnames


@dataclass(frozen=True)
class _Ranks:
    """Frequency rank of each first name by sex (0: the most frequent)."""

    female: dict[str, int]
    male: dict[str, int]


@cache
def name_pools() -> NamePools:
    """The pools shipped with medbatch (data/SOURCES.md), loaded on first use."""
    return NamePools(
        female=tuple(n.capitalize() for n in data_lines("given_names_female.txt.gz")),
        male=tuple(n.capitalize() for n in data_lines("given_names_male.txt.gz")),
        surnames=tuple(n.capitalize() for n in data_lines("surnames_frequent.txt.gz")),
    )


@cache
def _ranks() -> _Ranks:
    pools = name_pools()
    return _Ranks(
        female={n.lower(): i for i, n in enumerate(pools.female)},
        male={n.lower(): i for i, n in enumerate(pools.male)},
    )


def _ascii(token: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def _cased(fake: str, like: str) -> str:
    if like.isupper():
        return fake.upper()
    return fake.lower() if like.islower() else fake


def surrogate_name(value: str, pick: Pick) -> str:
    """``value`` (a NAME span) with each name token replaced by a surrogate of its role and sex; titles,
    credentials, punctuation and letter case kept."""
    matches = list(_PARTS.finditer(value))
    words = [m for m in matches if m.group().lower() not in TITLES | CREDENTIALS and len(m.group()) > 1]
    surname_at: set[int] = set()
    if len(words) >= 2:
        last_first = "," in value[words[0].end() : words[1].start()]
        surname_at.add((words[0] if last_first else words[-1]).start())
    elif words and any(m.group().lower() in _HONORIFICS | {"dr", "prof"} for m in matches[:1]):
        surname_at.add(words[0].start())  # "Mr. Okafor", "Dr. Quinn"
    out, cursor = [], 0
    for match in matches:
        token, low = match.group(), match.group().lower()
        out.append(value[cursor : match.start()])
        cursor = match.end()
        if low in TITLES or low in CREDENTIALS:
            out.append(token)
        elif len(token) == 1:
            out.append(pick("initial", low, _INITIALS))  # an initial stays an initial
        else:
            role, pool = name_pools().pool(low, match.start() in surname_at)
            out.append(_cased(pick(f"name-{role}", low, pool), token))
    out.append(value[cursor:])
    return "".join(out)
