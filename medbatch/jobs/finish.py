"""The end of a run: one current row per note, the index rewritten, the run's working files removed.

Order matters for a run stopped at any point: parts that lose rows are first written again under new
names, then the index (which names them) replaces the old one, and only then are the old parts and the
shard state files removed. Whatever is left behind is either referenced by the index or read as a part the
index does not know, so the next run reaches the same result (``reconcile`` is idempotent).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import fsspec
import pyarrow as pa

from medbatch.jobs.note_index import clear_shard_states, read_shard_states, write_index
from medbatch.jobs.output import PARTS_DIR, list_parts, part_rows, rewrite_part
from medbatch.jobs.reconcile import CONTENTS_SCHEMA, departed, reconcile
from medbatch.jobs.run_plan import RunPlan
from medbatch.storage import join

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """What finishing a run did: the new index and how many rows it removed."""

    index: pa.Table
    rows_removed: int


def finish_run(
    fs: fsspec.AbstractFileSystem, output_path: str, plan: RunPlan, *, keep_departed: bool = False
) -> Finished:
    """Fold the run's shards into the index and drop superseded and duplicate rows, and the rows of
    notes that left the source unless ``keep_departed``."""
    records = pa.concat_tables(
        [plan.carried, read_shard_states(fs, output_path, [s.id for s in plan.shards])]
    )
    if keep_departed:
        records = pa.concat_tables([records, departed(plan.previous, records)])
    written = part_rows(fs, output_path, list_parts(fs, output_path) - plan.parts)
    result = reconcile(records, pa.concat_tables([plan.contents, written.select(CONTENTS_SCHEMA.names)]))

    dropped: dict[str, set[bytes]] = defaultdict(set)
    for key, part in zip(result.drop["key"].to_pylist(), result.drop["part"].to_pylist(), strict=True):
        dropped[part].add(key)
    renamed = {part: rewrite_part(fs, output_path, part, keys) for part, keys in sorted(dropped.items())}
    index = result.index
    if renamed:
        column = [renamed.get(p, p) if p is not None else None for p in index["part"].to_pylist()]
        index = index.set_column(index.schema.get_field_index("part"), "part", pa.array(column, pa.string()))
    missing = index["part"].null_count
    if missing:
        log.warning(
            "%d source records have no row (parts removed by hand?); the next run reads them", missing
        )
    write_index(fs, output_path, index)
    for part in renamed:
        fs.rm(join(output_path, PARTS_DIR, part))
    clear_shard_states(fs, output_path)
    return Finished(index=index, rows_removed=len(result.drop))
