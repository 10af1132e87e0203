"""What a run has to do, decided before any record is read: which files changed, which notes are done.

A file whose version (see ``listing.file_version``) is the one the index recorded, with every record's
row in place and none to retry, is not read: its records carry over from the index. Every other file is
counted and planned into shards; its records are read by the workers, which skip the notes whose key is
already committed (``committed_keys``), so a grown corpus costs the new notes, not the whole corpus
again. Planning reads the index (no text in it) and, of parts the index does not know, the id,
text_hash, error and source columns: never a note's text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medbatch.jobs.config import JobConfig
from medbatch.jobs.ledger.index import DEPARTED, INDEX_SCHEMA, RECORD_SCHEMA, done_shards, read_index
from medbatch.jobs.ledger.keys import KEY_BYTES
from medbatch.jobs.ledger.parts import list_parts, part_rows
from medbatch.jobs.ledger.reconcile import contents_of
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.planning import Shard, plan_shards
from medbatch.jobs.sources.listing import SourceFile, with_row_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """The plan of one run.

    Attributes:
        files: every listed file; those read this run have ``rows`` (or ``error``) filled in.
        unchanged: how many files carry over from the index without being read.
        carried: the index's records of files not read this run (unchanged, or unreadable now: a file
            that cannot be read keeps its rows rather than losing them to a transient error).
        previous: what the output held at planning, as index records: the last completed run's index and
            the rows of parts it does not know (from a stopped run, or all parts if the index is damaged).
        contents: (key, part, retry) of every row the parts on disk hold.
        parts: the part files on disk at planning.
        shards: the shards over the files read this run; ``pending``: those not done yet.
        bytes_read: bytes planning read (index, part key columns, record counting).
        index_version: the version of the index planning read (None: there was none), which the run's
            commit must still find.
    """

    files: list[SourceFile]
    unchanged: int
    carried: pa.Table
    previous: pa.Table
    contents: pa.Table
    parts: set[str]
    shards: list[Shard]
    pending: list[Shard]
    bytes_read: int
    index_version: str | None

    def committed_keys(self) -> np.ndarray:
        """The keys of committed rows that need no retry, sorted, for the workers' membership test (16
        bytes per note): the notes a worker does not send to the engine again."""
        settled = self.contents.filter(pc.invert(pc.fill_null(self.contents["retry"], False)))
        keys = settled["key"].combine_chunks()
        # The fixed-width key column's data buffer is already an array of 16-byte strings: no copy per key.
        raw = np.frombuffer(
            keys.buffers()[1], dtype=f"S{KEY_BYTES}", count=len(keys), offset=keys.offset * KEY_BYTES
        )
        return np.unique(raw)


def _complete_versions(in_source: pa.Table) -> dict[str, str]:
    """relpath -> version of the indexed files whose every record has its row, none to be retried
    (``in_source``: the index without departed notes)."""
    # A record is settled when its row exists and needs no retry; a file is complete when all are.
    settled = pc.and_(pc.is_valid(in_source["part"]), pc.invert(pc.fill_null(in_source["retry"], False)))
    per_file = (
        in_source.append_column("settled", settled)
        .group_by(["source_file", "source_version"])
        .aggregate([("source_row", "count"), ("settled", "sum")])
    )
    complete = per_file.filter(pc.equal(per_file["source_row_count"], per_file["settled_sum"]))
    return dict(zip(complete["source_file"].to_pylist(), complete["source_version"].to_pylist(), strict=True))


def plan_run(
    config: JobConfig,
    fs_in: fsspec.AbstractFileSystem,
    base: str,
    listed: list[SourceFile],
    store: Store,
) -> RunPlan:
    """Plan a run over ``listed`` against what the output folder already holds."""
    read = read_index(store)
    index, bytes_read = read.table, read.bytes_read
    # Departed notes belong to no listed file; finishing decides whether they stay.
    in_source = index.filter(pc.not_equal(index["source_version"], DEPARTED)) if index is not None else None
    complete = _complete_versions(in_source) if in_source is not None else {}
    unchanged = {f.relpath for f in listed if complete.get(f.relpath) == f.version}
    counted = with_row_counts(
        fs_in, base, [f for f in listed if f.relpath not in unchanged], config.spec.source.format
    )
    bytes_read += sum(f.bytes_read for f in counted)
    # A file read and found empty (emptied in place) is not unreadable: its notes left the source.
    unreadable_now = {f.relpath for f in counted if f.error is not None and f.rows != 0}
    carried = RECORD_SCHEMA.empty_table()
    if in_source is not None:
        keep = pc.is_in(in_source["source_file"], pa.array(sorted(unchanged | unreadable_now), pa.string()))
        carried = in_source.filter(keep).select(RECORD_SCHEMA.names)

    parts = list_parts(store)
    indexed_parts = set(index["part"].drop_null().to_pylist()) if index is not None else set()
    unindexed = part_rows(store, parts - indexed_parts)
    contents = contents_of(index, parts, unindexed)

    shards = plan_shards([f for f in counted if f.error is None], config.spec.limits.shard_size)
    done = done_shards(store)
    pending = [s for s in shards if s.id not in done]
    files = sorted([*counted, *(f for f in listed if f.relpath in unchanged)], key=lambda f: f.relpath)
    log.info(
        "planned: %d files unchanged, %d to read in %d shards (%d done before), %d parts committed",
        len(unchanged),
        len(counted),
        len(shards),
        len(shards) - len(pending),
        len(parts),
    )
    return RunPlan(
        files=files,
        unchanged=len(unchanged),
        carried=carried,
        previous=pa.concat_tables([index if index is not None else INDEX_SCHEMA.empty_table(), unindexed]),
        contents=contents,
        parts=parts,
        shards=shards,
        pending=pending,
        bytes_read=bytes_read,
        index_version=read.version,
    )
