"""The run's summary, ``_manifest.json``, built from what is committed.

Each part carries its stats in its Parquet footer, written atomically with the rows (``part_stats``), so
the manifest of a resumed or incremental run counts parts of earlier runs exactly like its own.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from medbatch import __version__
from medbatch.jobs.ledger.index import DEPARTED
from medbatch.jobs.ledger.part_stats import PartStats, read_part_stats
from medbatch.jobs.ledger.parts import PARTS_DIR, list_parts, shard_of
from medbatch.jobs.ledger.plan import RunPlan
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.sources.listing import SourceFile
from medbatch.spec.run_files import AuditReport, Outcome, gpu_cost

if TYPE_CHECKING:
    from medbatch.jobs.config import JobConfig


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
    """Row counts: one row per current source note."""

    total: int = 0
    ok: int = 0
    failed: int = 0


class Changes(BaseModel):
    """What this run read, processed and removed (an incremental run processes only new or edited notes)."""

    files_read: int = Field(description="Source files read: new, or changed since the last completed run.")
    files_unchanged: int = Field(description="Source files not read: their version is the one indexed.")
    notes_processed: int = Field(description="Records this run sent through the note core (rows written).")
    notes_reused: int = Field(
        description="Records whose note (same id and text) already had its row: read this run and found "
        "committed, or in the shards a stopped attempt of this run committed (a resumed run)."
    )
    rows_removed: int = Field(
        description="Rows removed: notes edited (their old row), gone from the source, computed twice, or "
        "failed and replaced by a retry."
    )
    planning_bytes_read: int = Field(description="Bytes planning read (the index, record counting).")


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
    source_records: int = Field(description="Records in the source (a repeated note counts each time).")
    duplicate_records: int = Field(
        description="Records repeating a note already in the source (same id and text): they share its row."
    )
    departed_notes: int = Field(
        default=0,
        description="Rows kept for notes whose id left the source (output.departedNotes: keep); in records.",
    )
    changes: Changes
    shards_planned: int
    shards_run: int = Field(description="Shards processed by this run (the rest were committed before).")
    parts: list[PartInfo]
    source_errors: list[SourceProblem]
    phi_found: dict[str, int] = Field(description="PHI spans removed, by type (no values).")
    phi_from_memory: dict[str, int] = Field(
        default_factory=dict,
        description="Of phi_found, the spans only the corpus memory found, by type (counts only).",
    )
    memory_values: int = Field(
        default=0, description="Distinct values the corpus memory held for this run (keyed hashes, no text)."
    )
    entities: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Entities extracted, by type and then by assertion (present, absent, ...); counts only.",
    )
    summary_fallbacks: dict[str, int] = Field(
        default_factory=dict,
        description="Model summaries the note did not support, replaced by the CPU summary, by reason.",
    )
    audit: AuditReport | None = Field(
        default=None, description="The leak audit: suspects by type and the notes its gate held (counts)."
    )
    top_errors: dict[str, int] = Field(description="Most frequent row errors and their counts.")
    duplicate_ids: int = Field(
        description="Ids with more than one current row (the same id with different texts; each is kept)."
    )
    tokens_in: int
    tokens_out: int
    gpu_seconds: float = Field(
        default=0.0,
        description="This run's GPU time: GPUs per engine replica x replicas x the wall time they were held.",
    )
    cost: float | None = Field(
        default=None,
        description="GPU-hours x the ModelProfile's price per GPU-hour, when the profile declares one.",
    )
    timings: Timings


def decide_outcome(
    counts: Counts, source_errors: list[SourceFile], top_errors: Counter[str], held: int = 0
) -> tuple[Outcome, str | None]:
    """Succeeded, PartiallySucceeded (some rows or files failed, or the audit's gate held notes) or Failed
    (nothing succeeded)."""
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
    if held:
        problems.append(f"{held} notes held by the leak audit's gate (audit.held)")
    if problems:
        return Outcome.PARTIALLY_SUCCEEDED, "; ".join(problems)
    return Outcome.SUCCEEDED, None


def _audit_report(parts: list[PartStats], config: JobConfig) -> AuditReport | None:
    """The run's audit from the parts' counts; None when no row was audited."""
    audited = sum(p.audited for p in parts)
    deid = config.spec.tasks.deidentify
    if not audited or deid is None:
        return None
    suspects: Counter[str] = Counter()
    for part in parts:
        suspects.update(part.suspects)
    return AuditReport(
        notes_audited=audited,
        suspects=dict(sorted(suspects.items())),
        suspects_per_100_notes={k: round(100 * n / audited, 2) for k, n in sorted(suspects.items())},
        notes_held=sum(p.held for p in parts),
        max_suspect_rate=deid.audit.max_suspect_rate,
    )


def build_manifest(
    config: JobConfig,
    plan: RunPlan,
    index: pa.Table,
    changes: Changes,
    store: Store,
    timings: Timings,
    *,
    shards_run: int,
    gpu_seconds: float = 0.0,
    memory_values: int = 0,
) -> Manifest:
    """The manifest of a finished run, from the committed parts' footers and the index."""
    parts = read_part_stats(store, PARTS_DIR, list_parts(store))
    counts = Counts(total=sum(p.records for p in parts), failed=sum(p.failed for p in parts))
    counts.ok = counts.total - counts.failed
    phi: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    entities: dict[str, Counter[str]] = {}
    fallbacks: Counter[str] = Counter()
    for part in parts:
        phi.update(part.phi_by_type)
        memory.update(part.memory_by_type)
        fallbacks.update(part.summary_fallbacks)
        errors.update(part.errors)
        for key, count in part.entities.items():
            kind, _, assertion = key.partition("/")
            entities.setdefault(kind, Counter())[assertion] += count
    notes = index.select(["id", "key"]).group_by(["id", "key"]).aggregate([])
    departed = int(pc.sum(pc.equal(index["source_version"], DEPARTED)).as_py() or 0)
    ids = notes.group_by(["id"]).aggregate([("key", "count")])
    source_errors = [f for f in plan.files if f.error]
    audit = _audit_report(parts, config)
    outcome, reason = decide_outcome(counts, source_errors, errors, audit.notes_held if audit else 0)
    engine = config.engine.describe()
    return Manifest(
        corpus=config.corpus,
        outcome=outcome,
        reason=reason,
        config_hash=config.config_hash(),
        engine=engine.name,
        model=engine.model,
        prompt_version=engine.prompt_version,
        records=counts,
        source_records=index.num_rows - departed,
        duplicate_records=index.num_rows - notes.num_rows,
        departed_notes=departed,
        changes=changes,
        shards_planned=len(plan.shards),
        shards_run=shards_run,
        parts=[
            PartInfo(file=f"{PARTS_DIR}/{p.part}", shard=shard_of(p.part), records=p.records, failed=p.failed)
            for p in parts
        ],
        source_errors=[SourceProblem(file=f.relpath, error=f.error or "") for f in source_errors],
        phi_found=dict(sorted(phi.items())),
        phi_from_memory=dict(sorted(memory.items())),
        memory_values=memory_values,
        entities={kind: dict(sorted(c.items())) for kind, c in sorted(entities.items())},
        summary_fallbacks=dict(sorted(fallbacks.items())),
        audit=audit,
        top_errors=dict(errors.most_common(10)),
        duplicate_ids=int(pc.sum(pc.greater(ids["key_count"], 1)).as_py() or 0),
        tokens_in=sum(p.tokens_in for p in parts),
        tokens_out=sum(p.tokens_out for p in parts),
        gpu_seconds=round(gpu_seconds, 1),
        cost=gpu_cost(gpu_seconds, config.price_per_gpu_hour),
        timings=timings,
    )
