"""The end of a run: one current row per note, the index committed, the run's working files removed.

Order matters for a run stopped at any point: parts that lose rows are first written again under new
names, then the index (which names them) is committed, and only then are the old parts and the shard
state files removed. Whatever is left behind is either referenced by the index or read as a part the
index does not know, so the next run reaches the same result (``reconcile`` is idempotent).

The commit is a compare-and-swap against the index the run planned on: if another run committed since,
this one writes nothing more (the parts it rewrote are unindexed copies, which the next run collapses).
A run that finds its shards' state files gone has lost the same way: another run's finish removed them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from medbatch.jobs.ledger.index import clear_shard_states, commit_index, read_shard_states
from medbatch.jobs.ledger.parts import PARTS_DIR, list_parts, part_rows, rewrite_part
from medbatch.jobs.ledger.plan import RunPlan
from medbatch.jobs.ledger.reconcile import CONTENTS_SCHEMA, departed, reconcile
from medbatch.jobs.ledger.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """What finishing a run did: the new index and how many rows it removed; ``committed`` is False when
    another run committed the index first (nothing was removed then)."""

    index: pa.Table
    rows_removed: int
    committed: bool = True


def finish_run(store: Store, plan: RunPlan, *, keep_departed: bool = False) -> Finished:
    """Fold the run's shards into the index and drop superseded and duplicate rows, and the rows of
    notes that left the source unless ``keep_departed``."""
    try:
        states = read_shard_states(store, [s.id for s in plan.shards])
    except FileNotFoundError:  # another run's finish folded them into its index and removed them
        return Finished(index=plan.previous, rows_removed=0, committed=False)
    records = pa.concat_tables([plan.carried, states])
    if keep_departed:
        records = pa.concat_tables([records, departed(plan.previous, records)])
    written = part_rows(store, list_parts(store) - plan.parts)
    result = reconcile(records, pa.concat_tables([plan.contents, written.select(CONTENTS_SCHEMA.names)]))

    dropped: dict[str, set[bytes]] = defaultdict(set)
    for key, part in zip(result.drop["key"].to_pylist(), result.drop["part"].to_pylist(), strict=True):
        dropped[part].add(key)
    renamed = {part: rewrite_part(store, part, keys) for part, keys in sorted(dropped.items())}
    index = result.index
    if renamed:
        column = [renamed.get(p, p) if p is not None else None for p in index["part"].to_pylist()]
        index = index.set_column(index.schema.get_field_index("part"), "part", pa.array(column, pa.string()))
    missing = index["part"].null_count
    if missing:
        log.warning(
            "%d source records have no row (parts removed by hand?); the next run reads them", missing
        )
    if not commit_index(store, index, plan.index_version):
        return Finished(index=index, rows_removed=0, committed=False)
    for part in renamed:
        store.fs.rm(store.path(PARTS_DIR, part))
    clear_shard_states(store)
    return Finished(index=index, rows_removed=len(result.drop))
