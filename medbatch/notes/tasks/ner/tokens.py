"""Word tokens with their offsets: the unit the tagger labels and the vocabularies are keyed by.

Letters, numbers and single punctuation marks are separate tokens ("5-fluorouracil" is ``5``, ``-``,
``fluorouracil``), so an entity boundary inside a hyphenated or slashed word can still be a token boundary
and the same word is the same token in a PubMed abstract, a prescription line and a vocabulary entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*|[^\s\w]|_", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text and its offsets in the text it came from (end exclusive)."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order (linear in its length)."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
