"""Job-level counters exported as Ray metrics (Prometheus, Ray dashboard).

Labels are the corpus name and fixed vocabularies (outcome, PHI type, token direction): never ids or text.
"""

from __future__ import annotations

from ray.util.metrics import Counter, Gauge

from medbatch.jobs.process import ShardStats


class JobMetrics:
    """Counters updated by the driver as shards commit."""

    def __init__(self, corpus: str) -> None:
        self._tags = {"corpus": corpus}
        self.records = Counter(
            "medbatch_records_total", "Records processed, by outcome (ok, failed).", ("corpus", "outcome")
        )
        self.phi = Counter("medbatch_phi_found_total", "PHI spans removed, by type.", ("corpus", "type"))
        self.shards = Counter("medbatch_shards_committed_total", "Shard parts committed.", ("corpus",))
        self.errors = Counter(
            "medbatch_record_errors_total",
            "Error rows, by kind (the failing step or what failed, from our own messages; never note text).",
            ("corpus", "kind"),
        )
        self.tokens = Counter(
            "medbatch_tokens_total",
            "Model tokens, by direction (in, out, and cached: prompt tokens served from the prefix cache).",
            ("corpus", "direction"),
        )
        self.occupancy = Gauge(
            "medbatch_engine_occupancy",
            "Mean running requests / engine capacity over the run so far, 0..1.",
            ("corpus",),
        )

    def add(self, stats: ShardStats) -> None:
        """Account one committed shard."""
        ok = stats.records - stats.failed
        if ok:
            self.records.inc(ok, {**self._tags, "outcome": "ok"})
        if stats.failed:
            self.records.inc(stats.failed, {**self._tags, "outcome": "failed"})
        for phi_type, count in stats.phi_by_type.items():
            self.phi.inc(count, {**self._tags, "type": phi_type})
        for kind, count in stats.errors_by_kind.items():
            self.errors.inc(count, {**self._tags, "kind": kind})
        if stats.tokens_in:
            self.tokens.inc(stats.tokens_in, {**self._tags, "direction": "in"})
        if stats.tokens_out:
            self.tokens.inc(stats.tokens_out, {**self._tags, "direction": "out"})
        if stats.tokens_cached:
            self.tokens.inc(stats.tokens_cached, {**self._tags, "direction": "cached"})
        self.shards.inc(1, self._tags)

    def occupied(self, ratio: float) -> None:
        """Set the engine occupancy of the run so far."""
        self.occupancy.set(ratio, self._tags)


class ReplicaMetrics:
    """Series one engine replica (a shard worker) reports about itself; Ray's export tells replicas apart
    by its own ``WorkerId`` label."""

    def __init__(self, corpus: str) -> None:
        self._tags = {"corpus": corpus}
        self.occupancy = Gauge(
            "medbatch_replica_occupancy",
            "Mean running requests / engine capacity of one replica over its last shard, 0..1.",
            ("corpus",),
        )
        self.prompt_tokens = Counter(
            "medbatch_replica_prompt_tokens_total",
            "Prompt tokens of one replica, by whether its prefix cache served them (cached) or not (computed).",
            ("corpus", "source"),
        )

    def shard_done(self, occupancy: float, stats: ShardStats) -> None:
        """Account one shard the replica ran."""
        self.occupancy.set(occupancy, self._tags)
        computed = stats.tokens_in - stats.tokens_cached
        for source, tokens in (("cached", stats.tokens_cached), ("computed", computed)):
            if tokens > 0:  # Ray's counters take positive increments only
                self.prompt_tokens.inc(tokens, {**self._tags, "source": source})
