"""A shard's records, read from its slices of the source files: what both passes of a job read.

A slice that cannot be read after a few tries (the file changed or broke since planning) becomes error
rows marked ``unread``, retried by the next run, never a crashed shard.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from medbatch.jobs.planning import Shard
from medbatch.jobs.sources.readers import RawRecord, derived_id, read_slice
from medbatch.jobs.sources.slices import Slice
from medbatch.notes.errors import safe_error
from medbatch.spec import SourceSpec

log = logging.getLogger(__name__)

# Waits between the attempts at reading a slice before its records become error rows for the next run.
READ_RETRY_DELAYS_S = (0.5, 2.0)


class ShardReader:
    """Reads shards of one source.

    Args:
        spec: the Corpus's ``spec.source``.
        fs: the source's filesystem.
        base: the source's base path in ``fs``.
    """

    def __init__(self, spec: SourceSpec, fs: Any, base: str) -> None:
        self.spec, self.fs, self.base = spec, fs, base

    def _read_slice(self, slice_: Slice) -> list[RawRecord]:
        """One slice's records, retried with backoff: a throttled or failed GET, a file moved for a moment."""
        for delay in READ_RETRY_DELAYS_S:
            try:
                return read_slice(self.fs, self.base, self.spec, slice_)
            except Exception as exc:
                log.info("reading a slice failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                time.sleep(delay)
        return read_slice(self.fs, self.base, self.spec, slice_)

    def read(self, shard: Shard) -> list[RawRecord]:
        """The shard's records in order; those of a slice that could not be read are error rows."""
        records: list[RawRecord] = []
        for slice_ in shard.slices:
            try:
                records.extend(self._read_slice(slice_))
            except Exception as exc:  # the file changed or broke since planning: retried by the next run
                error = safe_error(f"cannot read {self.spec.format.value} file", exc)
                log.warning("shard %s: %s (its notes are retried by the next run)", shard.id, error)
                records.extend(
                    RawRecord(
                        derived_id(slice_.relpath, row, self.spec.format),
                        None,
                        None,
                        slice_.relpath,
                        row,
                        error,
                        unread=True,
                    )
                    for row in range(slice_.start, slice_.stop)
                )
        return records
