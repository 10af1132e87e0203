"""The features the CRF tagger sees for each token: the word, its shape and affixes, whether a public
vocabulary term covers it, and the same of its neighbours.

Shared by training (``scripts/train_ner_crf.py``) and tagging, so the model sees at run time exactly what
it was trained on.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from medbatch.notes.tasks.deid.lexicons import data_lines
from medbatch.notes.tasks.ner.tokens import Token
from medbatch.notes.tasks.ner.vocabulary import TermMatch, match_terms

_SHAPE = ((re.compile(r"[A-Z]+"), "X"), (re.compile(r"[a-z]+"), "x"), (re.compile(r"\d+"), "d"))


def _shape(word: str) -> str:
    """The word's shape with runs collapsed: ``Xx``, ``X``, ``d``, ``xdx`` ..."""
    for pattern, mark in _SHAPE:
        word = pattern.sub(mark, word)
    return word[:6]


@cache
def _clinical_words() -> frozenset[str]:
    """Words ICD-10-CM writes in lower case: anatomy, findings, diseases, organisms (with inflections)."""
    return frozenset(data_lines("clinical_vocabulary.txt.gz"))


@lru_cache(maxsize=1 << 16)
def _word(word: str) -> tuple[tuple[str, ...], dict[int, tuple[str, ...]]]:
    """The word's own features and what it contributes to each neighbour's, built once per distinct word
    (notes repeat their words, and string building is most of the tagger's cost)."""
    lower = word.lower()
    shape, s3 = _shape(word), lower[-3:]
    own = [f"w={lower}", f"s3={s3}", f"s4={lower[-4:]}", f"p3={lower[:3]}", f"sh={shape}"]
    if lower in _clinical_words():
        own.append("clinical")
    if len(word) > 1 and word.isupper():
        own.append("upper")
    if len(word) <= 2:
        own.append("short")
    near: dict[int, tuple[str, ...]] = {
        offset: (f"{offset}w={lower}", f"{offset}sh={shape}", f"{offset}s3={s3}")
        if abs(offset) == 1
        else (f"{offset}w={lower}",)
        for offset in (-2, -1, 1, 2)
    }
    return tuple(own), near


def token_features(tokens: list[Token], terms: list[TermMatch] | None = None) -> list[list[str]]:
    """One feature list per token, in crfsuite's ``name=value`` form; ``terms``: ``match_terms(tokens)``
    when the caller has it already."""
    vocabulary = ["O"] * len(tokens)
    for match in match_terms(tokens) if terms is None else terms:
        vocabulary[match.first] = f"B-{match.concept.type}"
        for i in range(match.first + 1, match.last + 1):
            vocabulary[i] = f"I-{match.concept.type}"
    words = [_word(t.text) for t in tokens]
    features: list[list[str]] = []
    for i in range(len(tokens)):
        row = [*words[i][0], f"v={vocabulary[i]}"]
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(tokens):
                row.extend(words[j][1][offset])
                row.append(f"{offset}v={vocabulary[j]}")
            else:
                row.append(f"{offset}w=<edge>")
        features.append(row)
    return features
