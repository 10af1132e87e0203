"""Deterministic shard planning: the same listing always gives the same shards with the same ids.

A shard is a run of consecutive records, possibly spanning several small files, at most ``shard_size``
records. Its id hashes what it covers (paths, file versions, row ranges), so a resumed job finds the same
ids and skips the shards it finished, while a changed file gives new ids. Ray Data's own block packing is not
deterministic across runs, which is why planning is ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from pydantic import BaseModel, Field

from medbatch.jobs.sources.listing import SourceFile
from medbatch.jobs.sources.slices import Slice


class Shard(BaseModel):
    """A unit of work and of output: one Parquet part per shard."""

    id: str = Field(description="16 hex digits derived from the slices.")
    index: int = Field(description="Position in the plan (for humans; not part of the id).")
    slices: list[Slice]

    @property
    def rows(self) -> int:
        """Records in the shard."""
        return sum(s.stop - s.start for s in self.slices)


def shard_id(slices: Sequence[Slice]) -> str:
    """Stable id of a shard: a hash of the slices it covers."""
    canonical = json.dumps([s.model_dump() for s in slices], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def plan_shards(files: Sequence[SourceFile], shard_size: int) -> list[Shard]:
    """Pack the records of ``files`` (in path order) into shards of at most ``shard_size`` records.

    Files with ``rows`` None (unreadable) or 0 are skipped; the caller reports them.
    """
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    shards: list[Shard] = []
    current: list[Slice] = []
    filled = 0

    def close() -> None:
        nonlocal current, filled
        if current:
            shards.append(Shard(id=shard_id(current), index=len(shards), slices=current))
        current, filled = [], 0

    for file in sorted(files, key=lambda f: f.relpath):
        start = 0
        while file.rows and start < file.rows:
            take = min(shard_size - filled, file.rows - start)
            current.append(Slice(relpath=file.relpath, version=file.version, start=start, stop=start + take))
            start += take
            filled += take
            if filled == shard_size:
                close()
    close()
    return shards
