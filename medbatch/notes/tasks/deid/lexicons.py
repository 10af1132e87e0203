"""Name, place and vocabulary lists the recognizers consult (see ``data/SOURCES.md`` for their origin).

Loaded once per process (about 0.5 s, 40 MB): a worker pays it at its first note, not per note.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Inflections that web2 (a list of headwords) leaves out: "rivers" is as common a word as "river".
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("ly", ""),
)

# Prefixes of medical word formation: "postanesthesia", "transurethral", "subfascial" are words when
# what follows the prefix is one.
_PREFIXES = tuple(
    """
    post pre trans intra inter sub supra infra peri para anti hyper hypo non multi micro macro neo
    pseudo semi extra retro endo epi meta
    """.split()
)


def data_lines(name: str) -> list[str]:
    """The words of a data file of this package (gzip by extension), comments after ``#`` left out."""
    data = (resources.files("medbatch.notes.tasks.deid") / "data" / name).read_bytes()
    text = gzip.decompress(data).decode() if name.endswith(".gz") else data.decode()
    return [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]


class PhraseIndex(dict[str, tuple[int, ...]]):
    """Phrases of words by their first word: the lengths to try there, longest first."""

    def __init__(self, phrases: frozenset[tuple[str, ...]]) -> None:
        lengths: dict[str, set[int]] = {}
        for phrase in phrases:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        super().__init__({w: tuple(sorted(n, reverse=True)) for w, n in lengths.items()})
        self.phrases = phrases
        self.pairs = frozenset(p[:2] for p in phrases)  # first two words: most candidates stop there


@dataclass(frozen=True)
class Lexicons:
    """Lower-case word sets; places of several words are tuples of their words."""

    first_names: frozenset[str]
    surnames: frozenset[str]
    places: frozenset[str]
    place_phrases: PhraseIndex
    institutions: PhraseIndex
    english: frozenset[str]
    frequent: dict[str, int]  # word -> rank, 0 the most frequent
    clinical: frozenset[str]

    def is_common(self, word: str) -> bool:
        """An English, clinical or drug word (or an inflection of one), so possibly not a name or place."""
        if word in self.english or word in self.clinical:
            return True
        if any(
            word.startswith(prefix) and len(word) - len(prefix) >= 4 and self.is_common(word[len(prefix) :])
            for prefix in _PREFIXES
        ):
            return True
        return any(
            word.endswith(suffix)
            and len(word) - len(suffix) >= 3
            and word[: -len(suffix)] + stem in self.english
            for suffix, stem in _SUFFIXES
        )

    def is_everyday(self, word: str) -> bool:
        """Among the 3,000 most frequent English words ("has", "will", "said"), which the Census lists
        also hold as names."""
        return self.frequent.get(word, 3000) < 3000

    def is_name(self, word: str) -> bool:
        """A first name or surname in the Census lists."""
        return word in self.first_names or word in self.surnames


@cache
def lexicons() -> Lexicons:
    """The lists shipped with medbatch, loaded on first use."""
    places = [p.replace("_", " ").split() for p in data_lines("us_places.txt.gz")]
    first_names = frozenset(data_lines("first_names.txt.gz"))
    # The disease-classification vocabulary, less the words that are also first names ("iris", "pearl"),
    # which stay names where a cue says so.
    vocabulary = [w for w in data_lines("clinical_vocabulary.txt.gz") if w not in first_names]
    return Lexicons(
        first_names=first_names,
        surnames=frozenset(data_lines("surnames.txt.gz")),
        places=frozenset(p[0] for p in places if len(p) == 1),
        place_phrases=PhraseIndex(frozenset(tuple(p) for p in places if len(p) > 1)),
        institutions=PhraseIndex(frozenset(tuple(i.split("_")) for i in data_lines("institutions.txt"))),
        english=frozenset(data_lines("english_words.txt.gz") + vocabulary),
        frequent={w: rank for rank, w in enumerate(data_lines("english_frequent.txt.gz"))},
        clinical=frozenset(
            data_lines("drug_names.txt.gz")
            + data_lines("medical_abbreviations.txt.gz")
            + data_lines("clinical_terms.txt")
        ),
    )
