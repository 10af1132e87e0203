"""The note index, ``_index.parquet``: every source record of the last completed run and where its row is.

One row per source record: ``source_file``, ``source_version`` (see ``listing.file_version``),
``source_row``, ``id``, ``key`` (the note key, see ``keys``), ``part`` (the committed part holding the
note's row) and ``retry``; ``source_version`` is ``DEPARTED`` for a note kept after it left the source.
Planning reads it instead of the source and the parts: a file whose version is unchanged is not read
again, and the keys say which notes are already done, for millions of notes in one columnar read with no
text in it. Replacing the index is the ledger's commit: compare-and-swap against the version planning
read (``Store.put_if``), so of two runs that planned on the same index only one commits.

While a run is in progress each finished shard leaves ``_state/shards/<shard>.parquet`` (the same columns
but ``part``), written after the shard's part is committed; a resumed run skips the shards that have one.
The end of a run folds them into the index and deletes them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from medbatch.jobs.ledger.keys import KEY_BYTES
from medbatch.jobs.ledger.store import Store

log = logging.getLogger(__name__)

INDEX_FILE = "_index.parquet"
# A run's working state, removed when it finishes: shard state files, and the run that owns the folder.
STATE_DIR = "_state"
SHARD_STATE_DIR = f"{STATE_DIR}/shards"

RECORD_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string()),
        pa.field("source_version", pa.string()),
        pa.field("source_row", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("key", pa.binary(KEY_BYTES)),
    ]
)
# ``retry``: the note's row carries an error a rerun may not meet again (the engine failed on a usable
# text), so the next run processes the note again; null for a record without a row.
INDEX_SCHEMA = RECORD_SCHEMA.append(pa.field("part", pa.string())).append(pa.field("retry", pa.bool_()))

# The ``source_version`` of a note kept after its id left the source (``output.departedNotes: keep``);
# ``source_file`` and ``source_row`` say where it was last seen. No listed file has an empty version.
DEPARTED = ""


def table_bytes(table: pa.Table) -> bytes:
    """A table as Parquet file bytes (zstd), for one atomic write."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd")
    return bytes(buffer.getvalue().to_pybytes())


@dataclass(frozen=True)
class IndexRead:
    """The index as planning read it.

    Attributes:
        table: the index; None when there is none or it is damaged.
        version: the version read, which the run's commit must still find (None: no index file).
        bytes_read: its size.
    """

    table: pa.Table | None
    version: str | None
    bytes_read: int


def read_index(store: Store) -> IndexRead:
    """The index and its version. A damaged index (a folder written by hand, a disk error) is ignored with
    a warning: every file is then read again, which is slower but loses nothing, since the committed parts
    still say which notes are done."""
    data, version = store.read_versioned(INDEX_FILE)
    if data is None:
        return IndexRead(None, None, 0)
    try:
        table = pq.read_table(pa.BufferReader(data)).cast(INDEX_SCHEMA)
    except Exception as exc:
        log.warning("%s is damaged (%s); every source file is read again", INDEX_FILE, type(exc).__name__)
        return IndexRead(None, version, 0)
    return IndexRead(table, version, len(data))


# Footer key of the commit id (see ``commit_index``).
_COMMIT = b"medbatch.commit"


def commit_index(store: Store, table: pa.Table, version: str | None) -> bool:
    """Replace the index if it is still at ``version`` (what planning read); False when another run
    committed one since, in which case nothing is written.

    Each commit carries a fresh id in its footer: an S3 ETag is a digest of the content, and two commits
    of the same rows must still be two versions, or a run could commit over one it never saw.
    """
    table = table.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA)
    table = table.replace_schema_metadata({_COMMIT: uuid.uuid4().hex.encode()})
    return store.put_if(INDEX_FILE, table_bytes(table), version)


def _state_path(shard_id: str) -> str:
    return f"{SHARD_STATE_DIR}/{shard_id}.parquet"


# State-file metadata of a shard whose files were not all read (a failed GET, a file moved meanwhile): its
# records are folded like any others, but the shard is not done, so a resumed run runs it again.
_UNREAD = b"medbatch.unread"


def write_shard_state(store: Store, shard_id: str, records: pa.Table, *, unread: int = 0) -> None:
    """Mark a shard done, with its records (written after its part is committed); ``unread`` records
    whose file could not be read leave it to be run again by a resumed run."""
    table = records.cast(RECORD_SCHEMA)
    if unread:
        table = table.replace_schema_metadata({_UNREAD: str(unread).encode()})
    store.write(_state_path(shard_id), table_bytes(table))


def done_shards(store: Store) -> set[str]:
    """Shards whose state file exists and can be read, and whose files were all read: done by this run or
    by a stopped attempt.

    State files are written whole, so a damaged one comes from outside (a disk error, a hand edit); it is
    removed with a warning and its shard runs again, which costs reading its records (its notes are
    committed, so none reaches the engine again) instead of a failed end of run.
    """
    shards = sorted(
        n.removesuffix(".parquet") for n in store.listing(SHARD_STATE_DIR) if n.endswith(".parquet")
    )

    def readable(shard_id: str) -> bool:
        try:
            with store.fs.open(store.path(_state_path(shard_id)), "rb") as handle:
                metadata = pq.read_metadata(handle).metadata or {}
        except Exception as exc:
            log.warning(
                "state file of shard %s is damaged (%s); the shard runs again", shard_id, type(exc).__name__
            )
            store.fs.rm(store.path(_state_path(shard_id)))
            return False
        return _UNREAD not in metadata

    with ThreadPoolExecutor(16) as pool:
        return {shard for shard, ok in zip(shards, pool.map(readable, shards), strict=True) if ok}


def read_shard_states(store: Store, shard_ids: Iterable[str]) -> pa.Table:
    """The records of the given done shards, in one table."""

    def one(shard_id: str) -> pa.Table:
        with store.fs.open(store.path(_state_path(shard_id)), "rb") as handle:
            return pq.read_table(handle).cast(RECORD_SCHEMA)

    with ThreadPoolExecutor(16) as pool:
        tables = list(pool.map(one, shard_ids))
    return pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()


def clear_shard_states(store: Store) -> None:
    """Remove the run's state folder: the shard state files (once the index holds what they said) and
    the run's ownership of the folder."""
    if store.listing(STATE_DIR):
        store.fs.rm(store.path(STATE_DIR), recursive=True)
