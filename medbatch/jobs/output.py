"""The output contract (one Parquet dataset per Corpus) and the exactly-once commit of shard parts.

Layout under the output URI::

    _job.json                 config hash and provenance of the run that owns this folder
    parts/part-<shard>.parquet one committed part per shard
    parts/_tmp/...            parts being written (a crash leaves them; they are never read)
    _progress.json            counts while running
    _manifest.json            the final summary (written last)

A part is written under a temporary name and then moved into place, so a part that exists is complete.
A resumed run lists ``parts/`` and skips those shards.
"""

from __future__ import annotations

import uuid
from types import UnionType
from typing import Any, Union, get_args, get_origin

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from medbatch.jobs.storage import join
from medbatch.notes.output import NoteOutput

PARTS_DIR = "parts"
TMP_DIR = "parts/_tmp"


class OutputRow(NoteOutput):
    """One output row per input record, good or bad: the note's results and where it came from."""

    source_file: str = Field(description="Source file, relative to source.uri.")
    source_row: int = Field(description="Row within the source file (0 for text files).")
    shard: str = Field(description="Id of the shard (and part) holding the row.")


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
    """The Arrow schema of every part, derived from ``OutputRow`` so the two cannot drift."""
    return pa.schema([pa.field(n, _arrow_type(f.annotation)) for n, f in OutputRow.model_fields.items()])


def part_name(shard_id: str) -> str:
    """File name of a shard's committed part."""
    return f"part-{shard_id}.parquet"


def committed_shards(fs: fsspec.AbstractFileSystem, output_path: str) -> set[str]:
    """Ids of shards whose part is committed under ``output_path``."""
    parts = join(output_path, PARTS_DIR)
    if not fs.exists(parts):
        return set()
    names = (p.rsplit("/", 1)[-1] for p in fs.ls(parts, detail=False))
    return {
        n[len("part-") : -len(".parquet")] for n in names if n.startswith("part-") and n.endswith(".parquet")
    }


def write_part(
    fs: fsspec.AbstractFileSystem,
    output_path: str,
    shard_id: str,
    rows: list[dict[str, Any]],
    metadata: dict[bytes, bytes] | None = None,
) -> str:
    """Write ``rows`` as the shard's part, atomically: temporary name first, then moved into place.

    ``metadata`` goes into the Parquet footer (the shard's stats), so it commits together with the rows.

    Returns the committed path. If the part was committed meanwhile (a retried task racing its first
    attempt), the existing part is kept: both attempts computed the same shard.
    """
    schema = output_schema().with_metadata(metadata or {})
    # Column-wise conversion: an order of magnitude faster than Table.from_pylist on nested rows.
    table = pa.Table.from_pydict({name: [row[name] for row in rows] for name in schema.names}, schema=schema)
    final = join(output_path, PARTS_DIR, part_name(shard_id))
    tmp = join(output_path, TMP_DIR, f"{shard_id}.{uuid.uuid4().hex}.parquet")
    fs.makedirs(join(output_path, TMP_DIR), exist_ok=True)
    with fs.open(tmp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    if fs.exists(final):
        fs.rm(tmp)
    else:
        fs.mv(tmp, final)
    return final
