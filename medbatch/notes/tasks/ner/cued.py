"""Findings named right after a trigger that only ever introduces one: "no ...", "negative for ...",
"concern for ...", "history of ...".

Clinical text names most findings in phrases no vocabulary holds ("no focal consolidation", "concern for
early appendicitis"), and a tagger trained on abstracts misses many of them. But ConText's triggers say
more than the assertion: the noun phrase a negation, possibility or history trigger opens is, in nearly
every clinical sentence, the finding it asserts something about. This module takes that phrase: after
such a trigger, the following words up to punctuation, a function word (conjunction, preposition,
auxiliary, pronoun) or ``MAX_WORDS`` content words, leading determiners skipped. Only triggers that
open a noun phrase count (not "may" or "not", which open verbs), and never a pseudo-trigger ("no
change", "without difficulty"). The phrases are PROBLEM candidates of the
lowest priority: they fill only text that no other recognizer claimed.

The word lists are closed classes of English grammar and the published ConText triggers, nothing read
from any corpus. Cost: one regular-expression pass, then a few words per trigger.
"""

from __future__ import annotations

import re

from medbatch.notes.spans import Entity
from medbatch.notes.tasks.ner.assertion import (
    HISTORICAL_FORWARD,
    NEGATION_FORWARD,
    POSSIBLE_FORWARD,
    PSEUDO_TRIGGERS,
    phrase_pattern,
)

# ConText's forward triggers that open a verb, an adverb, a list or something else than a finding.
_OPEN_NO_FINDING = frozenset(
    (
        *("not", "never", "neither", "nor", "none", "rules out", "does not appear"),
        *("doesn't", "didn't", "isn't", "wasn't", "aren't", "weren't", "haven't", "hasn't"),
        *("may", "might", "could be", "could have", "should", "probably", "possibly", "presumably"),
        *("previously", "likely", "suggests", "suspect", "consider", "differential diagnosis", "ddx"),
        *("versus", "vs"),
        # Open an episode or a procedure as often as a finding: "prior film", "s/p appendectomy".
        *("prior", "previous", "remote", "status post", "s/p"),
    )
)
# Cues of the same grammar that affirm: the finding they open is present.
_AFFIRMING = (
    "evidence of",
    "positive for",
    "significant for",
    "notable for",
    "consistent with",
    "compatible with",
    "diagnosed with",
    "complains of",
    "complaining of",
    "presents with",
    "presented with",
)
_TRIGGERS = [
    t
    for t in (*NEGATION_FORWARD, *POSSIBLE_FORWARD, *HISTORICAL_FORWARD, *_AFFIRMING)
    if t not in _OPEN_NO_FINDING
]
_TRIGGER = phrase_pattern(_TRIGGERS)
# Closed classes: where a noun phrase ends.
_STOP = frozenset(
    [
        "and",
        "or",
        "nor",
        "but",
        "yet",
        "so",
        "because",
        "although",
        "though",
        "while",
        "whereas",
        "if",
        "unless",
        "than",
        "as",
        "at",
        "in",
        "on",
        "of",
        "with",
        "to",
        "for",
        "from",
        "by",
        "into",
        "onto",
        "within",
        "without",
        "after",
        "before",
        "during",
        "since",
        "until",
        "over",
        "under",
        "above",
        "below",
        "between",
        "through",
        "throughout",
        "about",
        "against",
        "along",
        "around",
        "across",
        "beyond",
        "near",
        "per",
        "via",
        "versus",
        "vs",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "being",
        "am",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "noted",
        "seen",
        "identified",
        "present",
        "found",
        "appreciated",
        "demonstrated",
        "visualized",
        "detected",
        "observed",
        "this",
        "that",
        "these",
        "those",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "there",
        "here",
        "it",
        "its",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "our",
        "your",
        "my",
        "we",
        "you",
        "i",
        "me",
        "him",
        "us",
        "not",
        "no",
    ]
)
# Determiners and quantifiers skipped at the phrase's start.
_LEADING = frozenset(["a", "an", "the", "any", "all", "some", "other", "further", "definite", "obvious"])
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_GAP = re.compile(r"[ \t]*")
MAX_WORDS = 4
MIN_CHARS = 3
# A list's items are joined by a comma, "or", "and", "nor" or both ("fever, chills, or sweats").
_COORDINATION = re.compile(
    r"[ \t]*(?:,[ \t]*(?:(?:or|and|nor)(?![\w'-]))?|(?:or|and|nor)(?![\w'-]))", re.IGNORECASE
)
MAX_ITEMS = 8
MAX_ITEM_WORDS = 3
_ARTICLES = frozenset(["a", "an", "the"])


def _phrase(text: str, at: int, most: int, articles: bool) -> tuple[int, int, int] | None:
    """The noun phrase of at most ``most`` words starting at ``at`` (after spaces) and the offset where
    reading stopped, or None; without ``articles`` a phrase may not open with an article."""
    start = end = -1
    words = 0
    pos = at
    while words < most:
        gap = _GAP.match(text, pos)
        pos = gap.end() if gap else pos
        word = _WORD.match(text, pos)
        if word is None:
            break
        lowered = word.group().lower()
        if lowered in _STOP or (start < 0 and not articles and lowered in _ARTICLES):
            break
        pos = word.end()
        if start < 0 and lowered in _LEADING:
            continue
        if start < 0:
            start = word.start()
        end = word.end()
        words += 1
    if start < 0 or end - start < MIN_CHARS:
        return None
    if not articles and words == most and _more_words(text, pos):
        return None  # longer than a list item: a clause
    return start, end, end


def _more_words(text: str, pos: int) -> bool:
    gap = _GAP.match(text, pos)
    word = _WORD.match(text, gap.end() if gap else pos)
    return word is not None and word.group().lower() not in _STOP


def _list(text: str, at: int) -> list[tuple[int, int]]:
    """The phrase at ``at`` and the phrases coordinated with it ("no murmurs, rubs, or gallops"): a
    trigger's scope runs over a list, so every item is a finding it asserts something about."""
    spans: list[tuple[int, int]] = []
    while len(spans) < MAX_ITEMS:
        # A list's later items are short and bare; an article or a long phrase after the comma opens a
        # new clause ("no bleeding, the patient remained stable").
        phrase = _phrase(text, at, MAX_WORDS if not spans else MAX_ITEM_WORDS, not spans)
        if phrase is None:
            break
        spans.append(phrase[:2])
        joint = _COORDINATION.match(text, phrase[2])
        if joint is None:
            break
        at = joint.end()
    return spans


def after_trigger(text: str, start: int, end: int) -> int:
    """Where a span's finding starts: after the last trigger inside it that words follow ("denies neck
    pain" tagged whole is "neck pain"), else ``start``. A trigger is context, never the finding."""
    begin = start
    for trigger in _TRIGGER.finditer(text, start, end):
        if PSEUDO_TRIGGERS.match(text, trigger.start()):
            continue
        gap = _GAP.match(text, trigger.end())
        after = gap.end() if gap else trigger.end()
        if after < end and _WORD.match(text, after):
            begin = after
    return begin


def cued_findings(text: str) -> list[Entity]:
    """PROBLEM candidates: the phrases after each trigger that opens one (may overlap other entities)."""
    found = []
    for trigger in _TRIGGER.finditer(text):
        if PSEUDO_TRIGGERS.match(text, trigger.start()):  # "no change", "without difficulty"
            continue
        for start, end in _list(text, trigger.end()):
            found.append(Entity(start, end, "PROBLEM", text[start:end]))
    return found
