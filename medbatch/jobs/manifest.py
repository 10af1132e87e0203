"""The run's summary, ``_manifest.json``, built from what is committed.

Each part carries its shard's stats in its Parquet footer, written atomically with the rows, so the
manifest of a resumed run counts parts of earlier attempts exactly like its own.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import fsspec
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from medbatch import __version__
from medbatch.jobs.output import PARTS_DIR, part_name
from medbatch.jobs.process import ShardStats
from medbatch.jobs.sources.listing import SourceFile
from medbatch.jobs.storage import join
from medbatch.spec.run_files import Outcome

STATS_KEY = b"medbatch.stats"


class PartInfo(BaseModel):
    """One committed part."""

    file: str = Field(description="Path relative to the output URI.")
    shard: str
    records: int
    failed: int


class SourceProblem(BaseModel):
    """A source file that could not be read at all (its records are unknown, so they are listed here)."""

    file: str
    error: str


class Counts(BaseModel):
    """Record counts."""

    total: int = 0
    ok: int = 0
    failed: int = 0


class Timings(BaseModel):
    """Wall-clock figures of this run, in seconds (UTC ISO timestamps for start/end)."""

    started_at: str
    finished_at: str
    elapsed_s: float
    planning_s: float
    processing_s: float
    engine_busy_s: float = Field(
        description="Time during which an engine had at least one call running, summed over replicas."
    )
    engine_utilization: float = Field(description="engine_busy_s / (processing_s x replicas), 0..1.")
    engine_occupancy: float = Field(
        default=0.0,
        description="Mean running requests / engine capacity over the processing window, 0..1 (1: every "
        "slot of every replica busy all the time).",
    )
    tokens_per_s: float = Field(
        description="Model tokens (prompt + generated) of this run per second of processing."
    )
    prompt_tokens_cached_per_note: float = Field(
        default=0.0, description="Prompt tokens per note this run served from the prefix cache."
    )
    prompt_tokens_computed_per_note: float = Field(
        default=0.0, description="Prompt tokens per note this run computed (not found in the cache)."
    )


class Manifest(BaseModel):
    """``_manifest.json``."""

    corpus: str
    outcome: Outcome
    reason: str | None = Field(default=None, description="Why the outcome is not Succeeded.")
    config_hash: str
    engine: str
    model: str
    prompt_version: str
    medbatch_version: str = __version__
    records: Counts
    shards_planned: int
    shards_run: int = Field(description="Shards processed by this run (the rest were committed before).")
    parts: list[PartInfo]
    source_errors: list[SourceProblem]
    phi_found: dict[str, int] = Field(description="PHI spans removed, by type (no values).")
    top_errors: dict[str, int] = Field(description="Most frequent row errors and their counts.")
    duplicate_ids: int = Field(description="Ids that occur more than once (every occurrence is kept).")
    tokens_in: int
    tokens_out: int
    timings: Timings


def stats_metadata(stats: ShardStats, top_errors: Counter[str]) -> dict[bytes, bytes]:
    """Parquet footer metadata carrying a shard's stats."""
    payload = {
        "records": stats.records,
        "failed": stats.failed,
        "phi_by_type": dict(stats.phi_by_type),
        "tokens_in": stats.tokens_in,
        "tokens_out": stats.tokens_out,
        "errors": dict(top_errors.most_common(20)),
    }
    return {STATS_KEY: json.dumps(payload).encode()}


class PartSummary(BaseModel):
    """What the manifest needs from one committed part."""

    shard: str
    records: int
    failed: int
    phi_by_type: dict[str, int]
    tokens_in: int
    tokens_out: int
    errors: dict[str, int]
    ids: list[str]


def read_part_summary(fs: fsspec.AbstractFileSystem, output_path: str, shard_id: str) -> PartSummary:
    """Stats from a part's footer plus its ids (for duplicate detection); reads no text column."""
    path = join(output_path, PARTS_DIR, part_name(shard_id))
    with fs.open(path, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        stats = json.loads((parquet.schema_arrow.metadata or {})[STATS_KEY])
        ids = parquet.read(columns=["id"]).column("id").to_pylist()
    return PartSummary(shard=shard_id, ids=ids, **stats)


def summarize_parts(
    fs: fsspec.AbstractFileSystem, output_path: str, shard_ids: Iterable[str]
) -> list[PartSummary]:
    """Summaries of the given committed parts, read concurrently."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda s: read_part_summary(fs, output_path, s), shard_ids))


def decide_outcome(
    counts: Counts, source_errors: list[SourceFile], top_errors: Counter[str]
) -> tuple[Outcome, str | None]:
    """Succeeded, PartiallySucceeded (some rows or files failed) or Failed (nothing succeeded)."""
    if counts.ok == 0:
        if counts.total == 0:
            return Outcome.FAILED, "no source file could be read"
        common = ", ".join(f"{message} ({n})" for message, n in top_errors.most_common(3))
        return Outcome.FAILED, f"all {counts.total} records failed: {common}"
    problems = []
    if counts.failed:
        problems.append(f"{counts.failed} of {counts.total} records failed")
    if source_errors:
        problems.append(f"{len(source_errors)} source files could not be read")
    if problems:
        return Outcome.PARTIALLY_SUCCEEDED, "; ".join(problems)
    return Outcome.SUCCEEDED, None
