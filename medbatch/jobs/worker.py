"""The shard worker: a Ray Data actor that owns an engine and runs one shard per call, part committed
before it returns, and its typed report for the driver.

Keeping a shard inside one worker call is what makes "one part per shard, exactly once" hold regardless
of how Ray Data sizes or splits blocks. Inside a worker, the shards it runs at once feed one window of
notes in flight, so the engine gets a note's next request as soon as it is ready and never drains at a
shard's end.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from medbatch.jobs.config import JobConfig, surrogate_key_from_env
from medbatch.jobs.errors import JobError
from medbatch.jobs.ledger import Lease, OutputFolder
from medbatch.jobs.ledger.index import RECORD_SCHEMA
from medbatch.jobs.loop import LoopThread
from medbatch.jobs.planning import Shard
from medbatch.jobs.process import ShardStats, process_shard, record_key
from medbatch.jobs.shard_reader import ShardReader
from medbatch.logs import configure_logging
from medbatch.notes import NoteProcessor, Window
from medbatch.notes.tasks.deid.key import key_fingerprint
from medbatch.notes.tasks.deid.memory import CorpusMemory
from medbatch.storage import filesystem

log = logging.getLogger(__name__)


class ShardReport(BaseModel):
    """What a worker tells the driver about one shard (crosses the Ray boundary as JSON).

    Attributes:
        superseded: another run owned the folder at commit time; nothing was committed and the other
            fields are zero.
        stats: the notes processed this run (not those already committed).
        reused: records of the shard whose note already had a row.
        engine_busy_s, engine_request_s, engine_capacity: the engine's meter for the shard's time.
    """

    shard: str
    superseded: bool = False
    stats: ShardStats = ShardStats()
    reused: int = 0
    engine_busy_s: float = 0.0
    engine_request_s: float = 0.0
    engine_capacity: int = 1
    seconds: float = 0.0


class ShardWorker:
    """A Ray Data actor UDF: one engine per actor, one shard per call, part committed before returning."""

    def __init__(
        self,
        config_json: str,
        source_base: str,
        committed: list[Any] | None = None,
        lease: Lease | None = None,
        memory: list[Any] | None = None,
    ) -> None:
        configure_logging()  # worker processes start with Python's defaults, which drop INFO
        config = JobConfig.model_validate_json(config_json)
        # Sorted note keys of the committed rows, shared zero-copy through the object store (wrapped in a
        # list so that Ray hands the reference over instead of resolving it into a copy per argument).
        self.committed: np.ndarray = np.array([], dtype="S16")
        corpus_memory: CorpusMemory | None = None
        if committed or memory:
            import ray

            self.committed = ray.get(committed[0]) if committed else self.committed
            # The corpus memory (keyed hashes only), learned by the job's first pass.
            corpus_memory = ray.get(memory[0]) if memory else None
        self.config = config
        self.lease = lease
        self.reader = ShardReader(config.spec.source, filesystem(config.source_uri)[0], source_base)
        self.output = OutputFolder(config.output_uri)
        key = surrogate_key_from_env(config.spec)
        if key is not None and key_fingerprint(key) != config.key_fingerprint:
            raise JobError("the surrogate key on this worker differs from the driver's")
        self.engine = config.engine.build()
        spec = config.spec
        self.processor = NoteProcessor(
            spec.tasks,
            spec.limits,
            self.engine,
            surrogate_key=key,
            include_phi_spans=spec.output.include_phi_spans,
            memory=corpus_memory,
        )
        self.window = Window.for_engine(self.engine, spec.limits)
        self.loop = LoopThread()
        self.replica_metrics: Any = None  # made on first use: Ray metrics need the worker's Ray runtime

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        reports = [self.run_shard(Shard.model_validate_json(str(s))) for s in batch["shard"]]
        return {"report": [r.model_dump_json() for r in reports]}

    def _is_committed(self, key: bytes) -> bool:
        at = int(np.searchsorted(self.committed, key))
        return at < len(self.committed) and bytes(self.committed[at]) == key

    def run_shard(self, shard: Shard) -> ShardReport:
        """Process the shard's new notes, commit their part, mark the shard done."""
        started = time.perf_counter()
        records = self.reader.read(shard)
        keys = [record_key(record) for record in records]
        todo, seen = [], set()
        for record, key in zip(records, keys, strict=True):
            # A note committed before, or met earlier in this shard, already has (or will have) its row.
            if key not in seen and not self._is_committed(key.rstrip(b"\0")):
                todo.append(record)
            seen.add(key)
        rows, stats = self.loop.run(process_shard(self.processor, self.window, shard.id, todo))
        versions = {s.relpath: s.version for s in shard.slices}
        state = pa.table(
            {
                "source_file": [r.relpath for r in records],
                "source_version": [versions[r.relpath] for r in records],
                "source_row": [r.row for r in records],
                "id": [r.id for r in records],
                "key": keys,
            },
            schema=RECORD_SCHEMA,
        )
        unread = sum(r.unread for r in records)
        if not self.output.commit_shard(self.lease, shard.id, rows, state, unread=unread):
            log.warning("shard %s not committed: another run owns the output folder now", shard.id)
            return ShardReport(shard=shard.id, superseded=True)
        log.info(
            "shard %s done: %d notes processed (%d failed), %d already committed",
            shard.id,
            stats.records,
            stats.failed,
            len(records) - len(todo),
        )
        taken = self.engine.meter.take()
        self._report_replica(taken.ratio, stats)
        return ShardReport(
            shard=shard.id,
            stats=stats,
            reused=len(records) - len(todo),
            engine_busy_s=taken.busy_s,
            engine_request_s=taken.request_seconds,
            engine_capacity=taken.capacity,
            seconds=time.perf_counter() - started,
        )

    def _report_replica(self, occupancy: float, stats: ShardStats) -> None:
        import ray

        if not ray.is_initialized():  # run in-process by a test, outside any Ray worker
            return
        if self.replica_metrics is None:
            from medbatch.jobs.metrics import ReplicaMetrics

            self.replica_metrics = ReplicaMetrics(self.config.corpus)
        self.replica_metrics.shard_done(occupancy, stats)
