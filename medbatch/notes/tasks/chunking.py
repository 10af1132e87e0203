"""Split long notes into overlapping chunks so no note is dropped for its length.

Span tasks (PHI, entities) see every character at least once and every span shorter than the overlap
whole in at least one chunk; summaries are map-reduced over the chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

from medbatch.notes.spans import Entity
from medbatch.spec import LimitsSpec


@dataclass(frozen=True, slots=True)
class Chunk:
    """``text`` is ``note[start:start + len(text)]``."""

    start: int
    text: str


def chunk_text(text: str, max_chars: int, overlap: int) -> list[Chunk]:
    """Chunks of at most ``max_chars`` characters overlapping by ``overlap``; one chunk if the text fits.

    Boundaries move back to the last whitespace in the second half of a window, so words are not cut
    when it can be helped.
    """
    if max_chars <= 0 or overlap < 0 or overlap * 2 > max_chars:
        raise ValueError("need max_chars > 0 and 0 <= overlap <= max_chars / 2")
    if len(text) <= max_chars:
        return [Chunk(0, text)]
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = max(
                text.rfind(" ", start + max_chars // 2, end), text.rfind("\n", start + max_chars // 2, end)
            )
            end = cut if cut > start else end
        chunks.append(Chunk(start, text[start:end]))
        if end >= len(text):
            return chunks
        start = end - overlap


def chunk_by_chars(text: str, limits: LimitsSpec) -> list[Chunk]:
    """Chunks by the Corpus's character limits: the chunking of engines without a token budget."""
    return chunk_text(text, limits.chunk_chars, limits.chunk_overlap_chars)


def dedupe_entities(entities: list[Entity]) -> list[Entity]:
    """Entities found twice in overlapping chunks, kept once; sorted by offset."""
    return sorted(set(entities), key=lambda e: (e.start, e.end, e.type))
