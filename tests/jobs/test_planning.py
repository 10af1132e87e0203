"""Shard planning is pure and deterministic."""

from __future__ import annotations

import pytest

from medbatch.jobs.planning import plan_shards
from medbatch.jobs.sources.listing import SourceFile

FILES = [
    SourceFile(relpath="b.parquet", size=200, version="200:1", rows=7),
    SourceFile(relpath="a.parquet", size=100, version="100:1", rows=5),
    SourceFile(relpath="c.parquet", size=10, rows=0),
    SourceFile(relpath="d.parquet", size=10, rows=None, error="unreadable"),
]


def test_same_listing_gives_same_shards() -> None:
    assert plan_shards(FILES, 4) == plan_shards(list(reversed(FILES)), 4)


def test_shards_cover_every_row_once_in_path_order() -> None:
    shards = plan_shards(FILES, 4)
    covered = [(s.relpath, row) for shard in shards for s in shard.slices for row in range(s.start, s.stop)]
    assert covered == [("a.parquet", r) for r in range(5)] + [("b.parquet", r) for r in range(7)]
    assert [shard.rows for shard in shards] == [4, 4, 4]
    assert [shard.index for shard in shards] == [0, 1, 2]


def test_small_files_share_a_shard() -> None:
    files = [SourceFile(relpath=f"n{i}.txt", size=10, rows=1) for i in range(5)]
    shards = plan_shards(files, 2)
    assert [len(s.slices) for s in shards] == [2, 2, 1]


def test_ids_change_when_a_file_changes() -> None:
    before = plan_shards(FILES, 4)
    # Edited in place at the same size: only the version (mtime or ETag) says so.
    changed = [f.model_copy(update={"version": "200:2"}) if f.relpath == "b.parquet" else f for f in FILES]
    after = plan_shards(changed, 4)
    assert before[0].id == after[0].id, "a shard of untouched rows keeps its id"
    assert before[2].id != after[2].id
    assert len({s.id for s in before}) == len(before)


def test_shard_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="shard_size"):
        plan_shards(FILES, 0)
