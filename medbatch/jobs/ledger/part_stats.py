"""A part's stats, counted from its rows and kept in its Parquet footer.

The stats commit atomically with the rows, and a part written again without some rows (an edited or
deleted note) counts them again from what it holds, so the manifest, built from the footers, is right
after resumes and incremental runs alike, without reading a single text column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from medbatch.jobs.ledger.store import Store

STATS_KEY = b"medbatch.stats"
# The footer keeps the most frequent error messages of a part (a message never holds note text).
TOP_ERRORS_PER_PART = 20


class PartStats(BaseModel):
    """What the manifest needs from one committed part."""

    part: str = ""
    records: int
    failed: int
    phi_by_type: dict[str, int]
    # Of those, what only the corpus memory found (a part written before the memory has none).
    memory_by_type: dict[str, int] = {}
    # "TYPE/assertion" -> count (a part written before entities had assertions has none).
    entities: dict[str, int] = {}
    # reason -> count of model summaries replaced by the CPU summary.
    summary_fallbacks: dict[str, int] = {}
    # The leak audit: notes audited, of them those its gate held, and suspects by type.
    audited: int = 0
    held: int = 0
    suspects: dict[str, int] = {}
    tokens_in: int
    tokens_out: int
    errors: dict[str, int]


def _counts(
    values: pa.Array | pa.ChunkedArray, weights: pa.Array | pa.ChunkedArray | None = None
) -> dict[str, int]:
    table = pa.table(
        {"value": values, "weight": weights if weights is not None else pa.repeat(1, len(values))}
    )
    grouped = table.filter(pc.is_valid(table["value"])).group_by("value").aggregate([("weight", "sum")])
    return {
        str(v): int(n)
        for v, n in zip(grouped["value"].to_pylist(), grouped["weight_sum"].to_pylist(), strict=True)
    }


def _type_counts(flat: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """``{type: count}`` summed over a flattened list of ``{type, count}`` structs."""
    return _counts(pc.struct_field(flat, "type"), pc.struct_field(flat, "count")) if len(flat) else {}


def count_stats(table: pa.Table) -> PartStats:
    """Stats of a part's rows (a table in the output schema)."""
    phi = pc.list_flatten(table["phi_counts"])
    memory = pc.list_flatten(table["memory_counts"])
    errors = _counts(table["error"])
    top = dict(sorted(errors.items(), key=lambda item: (-item[1], item[0]))[:TOP_ERRORS_PER_PART])
    entities = pc.list_flatten(table["entities"])
    audits = table["audit"]
    suspects = pc.list_flatten(pc.struct_field(audits, "by_type"))
    entity_keys = pc.binary_join_element_wise(
        pc.struct_field(entities, "type"), pc.struct_field(entities, "assertion"), "/"
    )
    return PartStats(
        records=table.num_rows,
        failed=table.num_rows - pc.count(table["error"], mode="only_null").as_py() if table.num_rows else 0,
        phi_by_type=_type_counts(phi),
        memory_by_type=_type_counts(memory),
        entities=_counts(entity_keys) if len(entities) else {},
        summary_fallbacks=_counts(table["summary_fallback"]),
        audited=table.num_rows - audits.null_count,
        held=int(pc.sum(pc.struct_field(audits, "held")).as_py() or 0) if table.num_rows else 0,
        suspects=_type_counts(suspects),
        tokens_in=int(pc.sum(table["tokens_in"]).as_py() or 0),
        tokens_out=int(pc.sum(table["tokens_out"]).as_py() or 0),
        errors=top,
    )


def stats_metadata(table: pa.Table) -> dict[bytes, bytes]:
    """Parquet footer metadata carrying the stats of ``table``'s rows."""
    return {STATS_KEY: count_stats(table).model_dump_json(exclude={"part"}).encode()}


def read_part_stats(store: Store, parts_dir: str, names: Iterable[str]) -> list[PartStats]:
    """The footer stats of the given parts (read concurrently; no column is read)."""

    def one(name: str) -> PartStats:
        with store.fs.open(store.path(parts_dir, name), "rb") as handle:
            metadata = pq.ParquetFile(handle).schema_arrow.metadata or {}
        return PartStats(part=name, **json.loads(metadata[STATS_KEY]))

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, sorted(names)))
