"""The note index, ``_index.parquet``: every source record of the last completed run and where its row is.

One row per source record: ``source_file``, ``source_version`` (size and modification time, or ETag),
``source_row``, ``id``, ``key`` (the note key, see ``identity``), ``part`` (the committed part holding
the note's row) and ``retry``; ``source_version`` is ``DEPARTED`` for a note kept after it left the
source. Planning reads it instead of the source and the parts: a file whose version is unchanged is not
read again, and the keys say which notes are already done, for millions of notes in one columnar read
with no text in it.

While a run is in progress each finished shard leaves ``_state/shards/<shard>.parquet`` (the same columns
but ``part``), written after the shard's part is committed; a resumed run skips the shards that have one.
The end of a run folds them into the index and deletes them.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from medbatch.jobs.identity import KEY_BYTES
from medbatch.storage import join

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


def write_table(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table) -> None:
    """Write a Parquet state file so that it appears whole or not at all (local rename, or one upload)."""
    if isinstance(fs, LocalFileSystem):
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        pq.write_table(table, tmp, compression="zstd", filesystem=fs)
        os.replace(tmp, path)
        return
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd")
    fs.pipe_file(path, buffer.getvalue().to_pybytes())


def read_index(fs: fsspec.AbstractFileSystem, output_path: str) -> tuple[pa.Table | None, int]:
    """The index and the bytes read for it; None when there is none. A damaged index (a folder written
    by hand, a disk error) is ignored with a warning: every file is then read again, which is slower but
    loses nothing, since the committed parts still say which notes are done."""
    path = join(output_path, INDEX_FILE)
    if not fs.exists(path):
        return None, 0
    try:
        with fs.open(path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            table = parquet.read().cast(INDEX_SCHEMA)
            read = sum(
                parquet.metadata.row_group(g).column(c).total_compressed_size
                for g in range(parquet.metadata.num_row_groups)
                for c in range(parquet.metadata.num_columns)
            )
    except Exception as exc:
        log.warning("%s is damaged (%s); every source file is read again", INDEX_FILE, type(exc).__name__)
        return None, 0
    return table, read


def write_index(fs: fsspec.AbstractFileSystem, output_path: str, table: pa.Table) -> None:
    """Replace the index."""
    write_table(fs, join(output_path, INDEX_FILE), table.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA))


def _state_path(output_path: str, shard_id: str) -> str:
    return join(output_path, SHARD_STATE_DIR, f"{shard_id}.parquet")


# State-file metadata of a shard whose files were not all read (a failed GET, a file moved meanwhile): its
# records are folded like any others, but the shard is not done, so a resumed run runs it again.
_UNREAD = b"medbatch.unread"


def write_shard_state(
    fs: fsspec.AbstractFileSystem, output_path: str, shard_id: str, records: pa.Table, *, unread: int = 0
) -> None:
    """Mark a shard done, with its records (written after its part is committed); ``unread`` records
    whose file could not be read leave it to be run again by a resumed run."""
    table = records.cast(RECORD_SCHEMA)
    if unread:
        table = table.replace_schema_metadata({_UNREAD: str(unread).encode()})
    write_table(fs, _state_path(output_path, shard_id), table)


def done_shards(fs: fsspec.AbstractFileSystem, output_path: str) -> set[str]:
    """Shards whose state file exists and can be read, and whose files were all read: done by this run or
    by a stopped attempt.

    State files are written whole (``write_table``), so a damaged one comes from outside (a disk error,
    a hand edit); it is removed with a warning and its shard runs again, which costs reading its records
    (its notes are committed, so none reaches the engine again) instead of a failed end of run.
    """
    folder = join(output_path, SHARD_STATE_DIR)
    fs.invalidate_cache(folder)  # written by workers in other processes since any listing of ours
    if not fs.exists(folder):
        return set()
    names = [p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)]
    shards = sorted(n.removesuffix(".parquet") for n in names if n.endswith(".parquet"))

    def readable(shard_id: str) -> bool:
        try:
            with fs.open(_state_path(output_path, shard_id), "rb") as handle:
                metadata = pq.read_metadata(handle).metadata or {}
        except Exception as exc:
            log.warning(
                "state file of shard %s is damaged (%s); the shard runs again", shard_id, type(exc).__name__
            )
            fs.rm(_state_path(output_path, shard_id))
            return False
        return _UNREAD not in metadata

    with ThreadPoolExecutor(16) as pool:
        return {shard for shard, ok in zip(shards, pool.map(readable, shards), strict=True) if ok}


def read_shard_states(fs: fsspec.AbstractFileSystem, output_path: str, shard_ids: Iterable[str]) -> pa.Table:
    """The records of the given done shards, in one table."""

    def one(shard_id: str) -> pa.Table:
        with fs.open(_state_path(output_path, shard_id), "rb") as handle:
            return pq.read_table(handle).cast(RECORD_SCHEMA)

    with ThreadPoolExecutor(16) as pool:
        tables = list(pool.map(one, shard_ids))
    return pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()


def clear_shard_states(fs: fsspec.AbstractFileSystem, output_path: str) -> None:
    """Remove the run's state folder: the shard state files (once the index holds what they said) and
    the run's ownership of the folder."""
    folder = join(output_path, STATE_DIR)
    fs.invalidate_cache(folder)  # the workers wrote their states after the listing of planning
    if fs.exists(folder):
        fs.rm(folder, recursive=True)
