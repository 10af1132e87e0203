"""Baseline clinical entity extraction: a dictionary and a dosage pattern.

Honest about what it is: it finds the terms in ``data/lexicon.yaml`` and dose expressions, nothing more.
It exists so that a corpus can be processed end to end without a GPU; the LLM engines do real NER.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources

import yaml

from medbatch.notes.spans import Entity

_DOSAGE = re.compile(
    r"\b\d+(?:\.\d+)?[ \t]?(?:mg/kg|mg|mcg|g|mL|ml|units?|IU|mEq)\b"
    r"(?:[ \t]+(?:PO|IV|IM|SC|SQ|subcut|daily|BID|TID|QID|q\d{1,2}h|QHS|PRN|nightly|once daily|twice daily))*"
)


@cache
def _lexicon_patterns() -> dict[str, re.Pattern[str]]:
    text = resources.files("medbatch.notes.tasks").joinpath("data/lexicon.yaml").read_text("utf-8")
    lexicon: dict[str, list[str]] = yaml.safe_load(text)
    patterns = {}
    for entity_type, terms in lexicon.items():
        # Longest first so "congestive heart failure" wins over "heart failure" and "heart".
        alternatives = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
        patterns[entity_type] = re.compile(
            rf"(?<![\w\-])(?:{alternatives})(?:s|es)?(?![\w\-])", re.IGNORECASE
        )
    return patterns


def extract_entities(text: str, types: Iterable[str]) -> list[Entity]:
    """Entities of the requested types in ``text``, sorted by offset, without overlaps.

    Where two types claim overlapping text (e.g. "CT" inside a longer match), the longer match wins.
    """
    wanted = set(types)
    found: list[Entity] = []
    patterns = _lexicon_patterns()
    for entity_type in sorted(wanted & patterns.keys()):
        for match in patterns[entity_type].finditer(text):
            found.append(Entity(match.start(), match.end(), entity_type, match.group()))
    if "DOSAGE" in wanted:
        found.extend(Entity(m.start(), m.end(), "DOSAGE", m.group()) for m in _DOSAGE.finditer(text))
    found.sort(key=lambda e: (-(e.end - e.start), e.start, e.type))
    kept: list[Entity] = []
    for entity in found:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
