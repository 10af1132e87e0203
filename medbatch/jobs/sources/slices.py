"""A slice of a source file: the unit readers read and shards are planned from."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Slice(BaseModel):
    """Rows ``[start, stop)`` of one source file."""

    relpath: str
    version: str = Field(
        description="File version at planning time; part of the shard id, so a changed file is new work."
    )
    start: int
    stop: int
