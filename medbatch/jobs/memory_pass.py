"""The job's first pass: learn the corpus memory from the notes the run will process.

Every pending shard is read once more on CPU actors (``MemoryLearner``), the rules run on each note with
``recallFirst`` off (the memory learns only from evidence, never from the catch-all for capitalised
words), and each shard returns the keyed hashes it learned with their note counts. The driver adds them
up, with what earlier runs kept in ``_memory.json``, into the ``CorpusMemory`` every shard worker of the
second pass masks with. Nothing that crosses Ray or reaches storage is clear text.

The hashes are keyed with the surrogate key when the environment has one, so a later run over new notes
masks what earlier notes taught; without it a random key of this run is used and nothing is kept.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from medbatch.jobs.config import JobConfig, surrogate_key_from_env
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.planning import Shard
from medbatch.jobs.shard_reader import ShardReader
from medbatch.logs import configure_logging
from medbatch.notes.tasks.deid.key import key_fingerprint
from medbatch.notes.tasks.deid.memory import CorpusMemory, MemoryCounts, MemoryKey, note_entries
from medbatch.storage import filesystem

log = logging.getLogger(__name__)

MEMORY_FILE = "_memory.json"


class MemoryLearner:
    """A Ray Data actor UDF: one shard per call, its learned hashes and counts out (as JSON)."""

    def __init__(self, config_json: str, source_base: str, run_key: bytes | None) -> None:
        configure_logging()
        config = JobConfig.model_validate_json(config_json)
        self.reader = ShardReader(config.spec.source, filesystem(config.source_uri)[0], source_base)
        self.key = MemoryKey(run_key or surrogate_key_from_env(config.spec) or b"")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        out = []
        for raw in batch["shard"]:
            counts = MemoryCounts()
            for record in self.reader.read(Shard.model_validate_json(str(raw))):
                if record.text is not None and record.error is None:
                    counts.counts.update(note_entries(record.text, self.key))
            out.append(json.dumps(counts.to_json()))
        return {"counts": out}


def _kept(store: Store, fingerprint: str | None) -> MemoryCounts:
    """What earlier runs under the same key kept (nothing under another key, or without one)."""
    raw = store.read(MEMORY_FILE) if fingerprint is not None else None
    if raw is None:
        return MemoryCounts()
    data = json.loads(raw)
    if data.get("key_fingerprint") != fingerprint:
        log.info("the corpus memory of an earlier run was learned under another key; starting afresh")
        return MemoryCounts()
    return MemoryCounts.from_json(data["counts"])


def learn_memory(
    config: JobConfig, source_base: str, pending: Sequence[Shard], store: Store, *, worker_cpus: float
) -> CorpusMemory:
    """The corpus memory for this run: learned from ``pending`` and added to what earlier runs kept
    (which is then kept again, with this run's, when the key allows)."""
    import ray

    surrogate = surrogate_key_from_env(config.spec)
    run_key = None if surrogate is not None else secrets.token_bytes(32)
    counts = _kept(store, key_fingerprint(surrogate) if surrogate is not None else None)
    dataset = ray.data.from_items(
        [{"shard": s.model_dump_json()} for s in pending], override_num_blocks=len(pending)
    ).map_batches(
        MemoryLearner,
        fn_constructor_kwargs={
            "config_json": config.model_dump_json(),
            "source_base": source_base,
            "run_key": run_key,
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=max(1, min(config.num_workers, len(pending)))),
        num_cpus=worker_cpus,
    )
    for row in dataset.iter_rows():
        counts.add(MemoryCounts.from_json(json.loads(row["counts"])))
    if surrogate is not None:
        kept: dict[str, Any] = {"key_fingerprint": key_fingerprint(surrogate), "counts": counts.to_json()}
        store.write(MEMORY_FILE, json.dumps(kept).encode())
    deid = config.spec.tasks.deidentify
    assert deid is not None
    memory = CorpusMemory(MemoryKey(surrogate or run_key or b""), counts, deid.memory.min_count)
    log.info("corpus memory: %d values from %d learned", len(memory), len(counts.counts))
    return memory
