"""The output contract (one Parquet dataset per Corpus) and the parts that hold it.

Layout under the output URI::

    _job.json                          config hash and provenance of the run that owns this folder
    _index.parquet                     every source record and the part holding its note's row
    parts/part-<shard>-<tag>.parquet   committed parts; together exactly one row per current note
    _state/shards/<shard>.parquet      shards done by a run in progress (folded into the index at its end)
    _progress.json                     counts while running
    _manifest.json                     the final summary (written last)

A part is written atomically (``Store.write``: a local rename, or one PUT), so a part that exists is
complete; its name is new (shard id and a random tag), so two writers never write the same part. Parts are
never changed in place: a part that loses rows (an edited or deleted note) is written again under a new
name before the old one is removed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from medbatch.jobs.ledger.index import INDEX_SCHEMA, table_bytes
from medbatch.jobs.ledger.keys import UNUSABLE_PREFIX, note_key
from medbatch.jobs.ledger.part_stats import stats_metadata
from medbatch.jobs.ledger.store import Store
from medbatch.notes.output import NoteOutput
from medbatch.notes.stages import STAGES

PARTS_DIR = "parts"


class PhiCount(BaseModel):
    """How many PHI spans of one type a note had (a count, never a value)."""

    type: str
    count: int


class OutputRow(NoteOutput):
    """One output row per source note, good or bad: the note's results and where it came from."""

    text_hash: str = Field(
        description="SHA-256 of the note text (first 128 bits, hex); with id, the note's identity. For a "
        "record without usable text, 'error:' and a hash of the error; for one whose file could not be read "
        "this run (retried by the next), 'unread:' and a hash of the error."
    )
    phi_counts: list[PhiCount] = Field(description="PHI spans found, by type (no values).")
    memory_counts: list[PhiCount] = Field(
        default_factory=list,
        description="Of those, the spans only the corpus memory found, by type (no values).",
    )
    source_file: str = Field(description="Source file the note was read from, relative to source.uri.")
    source_row: int = Field(description="Row within that file (0 for text files) when the note was read.")
    shard: str = Field(description="Id of the shard that computed the row.")


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return _arrow_type(inner)
    if origin is list:
        return pa.list_(_arrow_type(get_args(annotation)[0]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct([pa.field(n, _arrow_type(f.annotation)) for n, f in annotation.model_fields.items()])
    return {str: pa.string(), int: pa.int64(), bool: pa.bool_(), float: pa.float64()}[annotation]


def output_schema() -> pa.Schema:
    """The Arrow schema of every part, derived from ``OutputRow`` and the registered stages' columns (a
    plug-in stage's come last) so the three cannot drift."""
    fields = dict(OutputRow.model_fields)
    for stage in STAGES:
        fields |= {n: f for n, f in stage.columns.model_fields.items() if n not in fields}
    return pa.schema([pa.field(n, _arrow_type(f.annotation)) for n, f in fields.items()])


def new_part_name(shard_id: str) -> str:
    """A fresh part file name for a shard. Names are never reused, so a part is never overwritten."""
    return f"part-{shard_id}-{uuid.uuid4().hex[:8]}.parquet"


def shard_of(part: str) -> str:
    """The shard id in a part's file name."""
    return part.removeprefix("part-").rsplit("-", 1)[0]


def list_parts(store: Store) -> set[str]:
    """File names of the committed parts, listed afresh (workers commit parts during the run)."""
    return {n for n in store.listing(PARTS_DIR) if n.startswith("part-") and n.endswith(".parquet")}


def write_part(store: Store, name: str, table: pa.Table) -> None:
    """Commit ``table`` as part ``name``, atomically; the footer carries the part's stats (counted from
    its rows), so they commit together with the rows."""
    store.write(f"{PARTS_DIR}/{name}", table_bytes(table.replace_schema_metadata(stats_metadata(table))))


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Output rows (dicts in the ``OutputRow`` shape) as a table in the output schema."""
    schema = output_schema()
    # Column-wise conversion: an order of magnitude faster than Table.from_pylist on nested rows.
    return pa.Table.from_pydict({name: [row[name] for row in rows] for name in schema.names}, schema=schema)


def _keys(table: pa.Table) -> list[bytes]:
    return [
        note_key(i, h) for i, h in zip(table["id"].to_pylist(), table["text_hash"].to_pylist(), strict=True)
    ]


def retryable(rows: pa.Table) -> pa.Array:
    """Rows whose error a rerun may fix: the text was usable and processing failed (an engine error, an
    unusable answer), as opposed to a record without usable text (``text_hash`` ``error:...``)."""
    unusable = pc.starts_with(rows["text_hash"], UNUSABLE_PREFIX)
    return pc.and_(pc.is_valid(rows["error"]), pc.invert(unusable)).combine_chunks()


def part_rows(store: Store, names: Iterable[str]) -> pa.Table:
    """Every row of the given parts as index records (source file and row, id, key, part; the file's
    version is unknown here, so empty), reading no text: for parts the index does not know."""

    def one(name: str) -> pa.Table:
        with store.fs.open(store.path(PARTS_DIR, name), "rb") as handle:
            table = pq.read_table(handle, columns=["source_file", "source_row", "id", "text_hash", "error"])
        return pa.table(
            {
                "source_file": table["source_file"],
                "source_version": pa.repeat(pa.scalar("", pa.string()), len(table)),
                "source_row": table["source_row"],
                "id": table["id"],
                "key": pa.array(_keys(table), INDEX_SCHEMA.field("key").type),
                "part": [name] * len(table),
                "retry": retryable(table),
            }
        )

    with ThreadPoolExecutor(16) as pool:
        tables = list(pool.map(one, sorted(names)))
    return pa.concat_tables(tables).cast(INDEX_SCHEMA) if tables else INDEX_SCHEMA.empty_table()


def rewrite_part(store: Store, name: str, drop: set[bytes]) -> str | None:
    """Commit the rows of part ``name`` whose key is not in ``drop`` as a new part; the old one stays until
    the caller removes it. Returns the new name, or None when no row is left (nothing is written)."""
    with store.fs.open(store.path(PARTS_DIR, name), "rb") as handle:
        table = pq.read_table(handle).cast(output_schema())
    keep = pa.array([key not in drop for key in _keys(table)], pa.bool_())
    kept = table.filter(keep)
    if kept.num_rows == 0:
        return None
    new_name = new_part_name(shard_of(name))
    write_part(store, new_name, kept)
    return new_name
