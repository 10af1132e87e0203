"""A note going in and what the core says about it coming out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from medbatch.notes.output import NoteOutput


@dataclass(frozen=True, slots=True)
class Note:
    """One clinical note: its id, text and (optionally) its patient, whose notes share a date shift."""

    id: str
    text: str
    patient: str | None = None


@dataclass(slots=True)
class Processed:
    """A note's output and what the callers account: PHI found by type (and of it, what only the corpus
    memory found), and prompt tokens from the cache."""

    output: NoteOutput
    phi_by_type: Counter[str] = field(default_factory=Counter)
    memory_by_type: Counter[str] = field(default_factory=Counter)
    tokens_cached: int = 0
