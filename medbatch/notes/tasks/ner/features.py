"""The features the CRF tagger sees for each token: the word, its shape and affixes, whether a public
vocabulary term covers it, and the same of its neighbours.

Shared by training (``scripts/train_ner_crf.py``) and tagging, so the model sees at run time exactly what
it was trained on.
"""

from __future__ import annotations

import re
from functools import cache

from medbatch.notes.tasks.deid.lexicons import data_lines
from medbatch.notes.tasks.ner.tokens import Token
from medbatch.notes.tasks.ner.vocabulary import match_terms

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


def _own(token: Token) -> dict[str, str]:
    word = token.text
    lower = word.lower()
    return {
        "w": lower,
        "s3": lower[-3:],
        "s4": lower[-4:],
        "p3": lower[:3],
        "sh": _shape(word),
    }


def token_features(tokens: list[Token]) -> list[list[str]]:
    """One feature list per token, in crfsuite's ``name=value`` form."""
    vocabulary = ["O"] * len(tokens)
    for match in match_terms(tokens):
        vocabulary[match.first] = f"B-{match.concept.type}"
        for i in range(match.first + 1, match.last + 1):
            vocabulary[i] = f"I-{match.concept.type}"
    own = [_own(t) for t in tokens]
    features: list[list[str]] = []
    for i, token in enumerate(tokens):
        mine = own[i]
        row = [f"{k}={v}" for k, v in mine.items()]
        row.append(f"v={vocabulary[i]}")
        if mine["w"] in _clinical_words():
            row.append("clinical")
        if len(token.text) > 1 and token.text.isupper():
            row.append("upper")
        if len(token.text) <= 2:
            row.append("short")
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(tokens):
                row.append(f"{offset}w={own[j]['w']}")
                row.append(f"{offset}v={vocabulary[j]}")
                if abs(offset) == 1:
                    row.append(f"{offset}sh={own[j]['sh']}")
                    row.append(f"{offset}s3={own[j]['s3']}")
            else:
                row.append(f"{offset}w=<edge>")
        features.append(row)
    return features
