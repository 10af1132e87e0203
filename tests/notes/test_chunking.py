"""Chunking long notes: full coverage, bounded size, overlap."""

from __future__ import annotations

import itertools

import pytest

from medbatch.notes.tasks.chunking import chunk_text


def test_short_text_is_one_chunk() -> None:
    assert [(c.start, c.text) for c in chunk_text("short note", 100, 10)] == [(0, "short note")]


@pytest.mark.parametrize("length", [1001, 5000, 123_457])
def test_chunks_cover_the_text_with_overlap(length: int) -> None:
    text = ("word " * length)[:length]
    chunks = chunk_text(text, 1000, 100)
    assert all(len(c.text) <= 1000 for c in chunks)
    assert all(text[c.start : c.start + len(c.text)] == c.text for c in chunks)
    assert chunks[0].start == 0
    assert chunks[-1].start + len(chunks[-1].text) == length
    for left, right in itertools.pairwise(chunks):
        assert left.start + len(left.text) - right.start == 100


def test_text_without_spaces_is_cut_hard() -> None:
    chunks = chunk_text("x" * 2500, 1000, 0)
    assert [len(c.text) for c in chunks] == [1000, 1000, 500]


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("abc", 100, 60)
