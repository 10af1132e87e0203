"""One shard's records through the note core: rows in the output schema and the shard's counts.

Records the reader could not use become error rows without reaching the engine; every other record is a
``Note`` for ``NoteProcessor``, run through the worker's shared ``Window``. Every record given yields
exactly one row, in order; which records are given (the notes not committed yet) is the worker's choice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from medbatch.jobs.ledger.keys import note_key, text_hash, unread_hash, unusable_hash
from medbatch.jobs.ledger.parts import OutputRow
from medbatch.jobs.sources.readers import RawRecord
from medbatch.notes import Note, NoteProcessor, Processed, Window


class ShardStats(BaseModel):
    """Counts of the notes one shard processed, aggregated by the driver into the Ray metrics."""

    records: int = 0
    failed: int = 0
    phi_by_type: dict[str, int] = Field(default_factory=dict, description="PHI spans by type (counts).")
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    errors_by_kind: dict[str, int] = Field(
        default_factory=dict, description="Failed rows by error kind (see ``error_kind``)."
    )


# An error kind is at most this long (a bounded label value: the start of one of our own messages).
_KIND_CHARS = 48


def error_kinds(error: str) -> set[str]:
    """The kinds of an error row's message: each part (parts are joined with "; ") up to its first ':' or
    '(' (the failing step, or what failed), e.g. "ner" or "engine call failed". Error messages are ours
    and never hold note text (``safe_error``), so neither do their kinds."""
    kinds = set()
    for part in error.split("; "):
        kind = part.split(":", 1)[0].split("(", 1)[0].strip()
        kinds.add(kind[:_KIND_CHARS] or "unknown")
    return kinds


def record_hash(record: RawRecord) -> str:
    """The record's ``text_hash``: of its text, or of its error when it has no usable text."""
    if record.text is not None and record.error is None:
        return text_hash(record.text)
    if record.unread:
        return unread_hash(record.error or "file not read")
    return unusable_hash(record.error or "text is empty")


def record_key(record: RawRecord) -> bytes:
    """The record's note key (see ``keys.note_key``)."""
    return note_key(record.id, record_hash(record))


async def process_shard(
    processor: NoteProcessor, window: Window, shard_id: str, records: Sequence[RawRecord]
) -> tuple[list[dict[str, Any]], ShardStats]:
    """Output rows (dicts in the output schema) and stats for ``records``, in order."""

    async def one(record: RawRecord) -> Processed:
        if record.error is not None or record.text is None:
            return processor.unprocessed(record.id, record.error or "text is empty")
        text = record.text
        return await window.run(lambda: processor.process(Note(record.id, text, record.patient)))

    done = await asyncio.gather(*(one(record) for record in records))
    stats = ShardStats(records=len(done))
    phi: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    rows = []
    for record, processed in zip(records, done, strict=True):
        output = processed.output
        rows.append(
            OutputRow(
                **output.model_dump(),
                text_hash=record_hash(record),
                phi_counts=[{"type": t, "count": n} for t, n in sorted(processed.phi_by_type.items())],
                memory_counts=[{"type": t, "count": n} for t, n in sorted(processed.memory_by_type.items())],
                source_file=record.relpath,
                source_row=record.row,
                shard=shard_id,
            ).model_dump()
        )
        stats.failed += output.error is not None
        if output.error is not None:
            errors.update(error_kinds(output.error))
        phi.update(processed.phi_by_type)
        stats.tokens_in += output.tokens_in
        stats.tokens_out += output.tokens_out
        stats.tokens_cached += processed.tokens_cached
    stats.phi_by_type = dict(phi)
    stats.errors_by_kind = dict(errors)
    return rows, stats
