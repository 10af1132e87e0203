"""The CPU NER model: a linear-chain CRF that labels tokens B-/I-PROBLEM and B-/I-MEDICATION.

Trained by ``scripts/train_ner_crf.py`` on the BioCreative V CDR training split only (see
docs/ner.md for what it was trained on and how it measures). It tags one sentence or line at a time, so a
note's cost is linear in its length.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pycrfsuite

from medbatch.notes.tasks.ner.features import token_features
from medbatch.notes.tasks.ner.tokens import tokenize
from medbatch.notes.tasks.ner.vocabulary import Concept, match_terms

MODEL_PATH = Path(str(resources.files("medbatch.notes.tasks.ner").joinpath("data/ner-crf.crfsuite")))
# Sentence ends and line breaks: what one tagged sequence is. A piece longer than this is tagged in
# windows of this many characters (a corrupt record with no line break stays linear, not quadratic).
_BREAK = re.compile(r"\n|(?<=[.!?;])\s+(?=[A-Z\d(\[])")
MAX_PIECE_CHARS = 2000
_local = threading.local()


def sequences(text: str) -> list[tuple[int, str]]:
    """(offset, piece) for each sentence or line of ``text``, pieces without surrounding whitespace."""
    pieces: list[tuple[int, str]] = []
    start = 0
    for match in [*_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        for window in range(start, end, MAX_PIECE_CHARS):
            piece = text[window : min(end, window + MAX_PIECE_CHARS)]
            stripped = piece.lstrip()
            if stripped.strip():
                pieces.append((window + len(piece) - len(stripped), stripped.rstrip()))
        start = match.end() if match else len(text)
    return pieces


def _tagger() -> pycrfsuite.Tagger:
    # One per thread: a CRFsuite tagger holds per-call state; shards call from several threads.
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        tagger = pycrfsuite.Tagger()
        tagger.open(str(MODEL_PATH))
        _local.tagger = tagger
    return tagger


@dataclass(frozen=True, slots=True)
class Tagged:
    """What one pass over a text finds: the model's PROBLEM/MEDICATION spans (start, end, type) and the
    vocabulary terms its features read (start, end, concept), both in text offsets."""

    spans: list[tuple[int, int, str]]
    terms: list[tuple[int, int, Concept]]


def tag(text: str) -> Tagged:
    """Every PROBLEM and MEDICATION the model finds in ``text``, and the vocabulary terms of the text (the
    same matching serves the model's features and the term lists, so a note is matched once)."""
    found: list[tuple[int, int, str]] = []
    terms: list[tuple[int, int, Concept]] = []
    tagger = _tagger()
    for offset, piece in sequences(text):
        tokens = tokenize(piece)
        if not tokens:
            continue
        matches = match_terms(tokens)
        terms += [(offset + tokens[m.first].start, offset + tokens[m.last].end, m.concept) for m in matches]
        labels = tagger.tag(token_features(tokens, matches))
        current: list[int] | None = None
        for token, label in zip(tokens, [*labels], strict=True):
            prefix, _, kind = label.partition("-")
            if current is not None and (prefix != "I" or kind != found[-1][2]):
                current = None
            if prefix == "B" or (prefix == "I" and current is None):
                found.append((offset + token.start, offset + token.end, kind))
                current = [len(found) - 1]
            elif prefix == "I" and current is not None:
                start, _end, kind = found[-1]
                found[-1] = (start, offset + token.end, kind)
    return Tagged(found, terms)
