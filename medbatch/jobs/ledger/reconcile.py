"""Which rows the output keeps: one current row per source note, decided from keys alone (pure functions).

``contents`` is what the committed parts hold, as (key, part, retry) rows; ``records`` is every record of
the source as it is now (the index rows of unchanged files and the records read by this run). A note's
row is kept in one part: one without a retryable error if there is one, then the first by name, so a
retried note's new row replaces its failed one, and duplicates from a retried task or from the same note
arriving in two new files collapse to one row; rows whose key is no longer in the source (the note was
edited, so its key changed, or it left the source) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from medbatch.jobs.ledger.index import DEPARTED, RECORD_SCHEMA
from medbatch.jobs.ledger.keys import KEY_BYTES

DROP_SCHEMA = pa.schema([pa.field("key", pa.binary(KEY_BYTES)), pa.field("part", pa.string())])
CONTENTS_SCHEMA = DROP_SCHEMA.append(pa.field("retry", pa.bool_()))


def contents_of(index: pa.Table | None, parts_on_disk: set[str], unindexed: pa.Table) -> pa.Table:
    """What the parts on disk hold: the index's (key, part, retry) for the parts it references, plus the
    keys read from parts it does not know (committed by a run that stopped before writing the index).
    A pair can appear more than once (a note repeated in the source); ``reconcile`` does not mind."""
    tables = [unindexed.select(CONTENTS_SCHEMA.names).cast(CONTENTS_SCHEMA)]
    if index is not None:
        indexed = index.select(CONTENTS_SCHEMA.names).filter(pc.is_in(index["part"], pa.array(parts_on_disk)))
        tables.append(indexed.cast(CONTENTS_SCHEMA))
    return pa.concat_tables(tables)


@dataclass(frozen=True)
class Reconciliation:
    """The new index and the rows to drop.

    Attributes:
        index: ``records`` with the part holding each note's row and whether it is to be retried (null
            for a note with no row, which only happens when parts were removed by hand; its file is
            read again next run).
        drop: (key, part) pairs whose rows must go: superseded, duplicate, replaced by a retry, or no
            longer in the source.
    """

    index: pa.Table
    drop: pa.Table


def reconcile(records: pa.Table, contents: pa.Table) -> Reconciliation:
    """Choose one row per current note and list every other row for removal."""
    current = records.select(["key"]).group_by(["key"]).aggregate([])
    held = contents.join(current, "key", join_type="inner")
    # A row without a retryable error beats one with (a retried note's new row replaces its failed one);
    # among equals the first part by name: "0"/"1" + part name, and the smallest wins.
    flag = pc.if_else(pc.fill_null(held["retry"], False), "1", "0")
    held = held.append_column("rank", pc.binary_join_element_wise(flag, held["part"], ""))
    best = held.group_by(["key"]).aggregate([("rank", "min")])
    chosen = pa.table(
        {
            "key": best["key"],
            "part": pc.utf8_slice_codeunits(best["rank_min"], 1),
            "retry": pc.starts_with(best["rank_min"], "1"),
        }
    )
    index = records.join(chosen, "key", join_type="left outer").sort_by(
        [("source_file", "ascending"), ("source_row", "ascending")]
    )
    unique_contents = contents.group_by(["key", "part"]).aggregate([])
    drop = unique_contents.join(chosen.select(["key", "part"]), ["key", "part"], join_type="left anti")
    return Reconciliation(index=index, drop=drop.cast(DROP_SCHEMA))


def departed(previous: pa.Table, current: pa.Table) -> pa.Table:
    """The notes of ``previous`` (the last index) whose id is not in ``current`` (the source's records
    now) and that have a row, one record per note, marked ``DEPARTED``: kept as if still in the source.
    Matching on id, not key, is what lets an edited note's old text go while a removed note stays."""
    gone = previous.filter(
        pc.and_(pc.invert(pc.is_in(previous["id"], current["id"])), pc.is_valid(previous["part"]))
    )
    first = pc.index_in(pc.unique(gone["key"]), gone["key"])
    kept = gone.take(first).select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
    marked = pa.array([DEPARTED] * kept.num_rows, pa.string())
    return kept.set_column(RECORD_SCHEMA.get_field_index("source_version"), "source_version", marked)
