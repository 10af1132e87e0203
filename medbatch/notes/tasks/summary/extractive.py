"""Baseline extractive summary: the most informative sentences of the note, in their original order.

A baseline: it selects sentences, it does not write new ones. Sentences in Assessment/Plan/Impression
sections and sentences dense in clinical entities the note asserts as present score highest; a negated,
possible or family finding adds nothing, so a sentence of denials never outranks one of findings (and a
chosen sentence is quoted whole, its negation with it).
"""

from __future__ import annotations

import re

from medbatch.notes.spans import Assertion
from medbatch.notes.tasks.ner import extract_entities

# Sentence ends, except after the titles and abbreviations that notes are full of.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<!\bvs\.)[ \t]+(?=[A-Z\[])|\n+"
)
_KEY_SECTION = re.compile(
    r"^\s*(?:assessment|plan|impression|diagnos[ie]s|a/p|hospital course|summary|discharge diagnosis)\b",
    re.IGNORECASE,
)
_ANY_SECTION = re.compile(r"^\s*[A-Z][A-Za-z /&]{1,40}:\s*")
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_ENTITY_TYPES = ("PROBLEM", "MEDICATION", "PROCEDURE", "TEST")


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``, stripped, without empty ones."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def summarize(text: str, max_words: int) -> str:
    """An extractive summary of at most ``max_words`` words (the first sentence is cut if it alone is longer)."""
    sentences = split_sentences(text)
    scored: list[tuple[float, int, str]] = []
    in_key_section = False
    for index, sentence in enumerate(sentences):
        header = _ANY_SECTION.match(sentence)
        if header:
            in_key_section = bool(_KEY_SECTION.match(sentence))
        body = sentence[header.end() :] if header else sentence
        words = body.split()
        if len(words) < 3 and not in_key_section:
            continue
        placeholders = len(_PLACEHOLDER.findall(body))
        if placeholders * 3 >= len(words):  # mostly identifiers: a header line, not content
            continue
        present = [e for e in extract_entities(body, _ENTITY_TYPES) if e.assertion is Assertion.PRESENT]
        score = len(present) + (3.0 if in_key_section else 0.0)
        score += 1.0 if index < 3 else 0.0
        scored.append((score, index, body))
    chosen: list[tuple[int, str]] = []
    budget = max_words
    for _score, index, body in sorted(scored, key=lambda item: (-item[0], item[1])):
        length = len(body.split())
        if length <= budget:
            chosen.append((index, body))
            budget -= length
        elif not chosen:
            chosen.append((index, " ".join(body.split()[:max_words])))
            budget = 0
        if budget <= 0:
            break
    return " ".join(body for _index, body in sorted(chosen))
