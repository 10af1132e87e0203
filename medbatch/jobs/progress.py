"""What a run has done so far: fed by the shard workers' reports, written to ``_progress.json`` (which
the operator polls) and to the Ray metrics."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from medbatch.jobs.config import JobConfig
from medbatch.jobs.ledger import OutputFolder, Timings
from medbatch.jobs.planning import Shard
from medbatch.jobs.worker import ShardReport
from medbatch.spec.run_files import ProgressReport, gpu_cost, utc_now

# Progress is written at most this often (seconds); the operator polls it.
PROGRESS_INTERVAL_S = 2.0
# The throughput and ETA are measured over this window, so they follow a run that speeds up or slows down.
RATE_WINDOW_S = 300.0

ProgressCallback = Callable[[int, int, int, int], None]


class RunProgress:
    """The counts of a run in progress."""

    def __init__(
        self,
        config: JobConfig,
        output: OutputFolder,
        shards: list[Shard],
        pending: list[Shard],
        on_progress: ProgressCallback | None,
        *,
        gpus_per_worker: float = 0.0,
    ) -> None:
        from medbatch.jobs.metrics import JobMetrics

        self.metrics = JobMetrics(config.corpus)
        self.output = output
        self.on_progress = on_progress
        self.shards_total = len(shards)
        self.records_total = sum(s.rows for s in shards)
        self.shards_done = len(shards) - len(pending)
        self.records_done = self.records_total - sum(s.rows for s in pending)
        self.failed = 0
        self.engine_busy_s = 0.0
        self.engine_request_s = 0.0
        self.engine_capacity = 1
        self.workers = min(config.num_workers, max(len(pending), 1))
        # GPUs the engine replicas hold while the run processes (none when nothing is pending).
        self.gpus = self.workers * gpus_per_worker if pending else 0.0
        self.price_per_gpu_hour = config.price_per_gpu_hour
        self.started = time.perf_counter()
        self._samples: deque[tuple[float, int]] = deque([(self.started, self.records_done)])
        self.records_run = 0
        # A resumed run does not read the shards a stopped attempt committed: their notes are done too.
        self.reused = self.records_done
        self.tokens_cached = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self._last_write = 0.0

    def shard_committed(self, done: ShardReport) -> None:
        """Account one shard worker's report."""
        stats = done.stats
        self.metrics.add(stats)
        self.engine_busy_s += done.engine_busy_s
        self.engine_request_s += done.engine_request_s
        self.engine_capacity = done.engine_capacity
        self.records_run += stats.records
        self.reused += done.reused
        self.tokens_cached += stats.tokens_cached
        elapsed = time.perf_counter() - self.started
        if elapsed > 0:
            self.metrics.occupied(self.engine_request_s / (elapsed * self.workers * self.engine_capacity))
        self.tokens_in += stats.tokens_in
        self.tokens_out += stats.tokens_out
        self.shards_done += 1
        self.records_done += stats.records + done.reused
        self.failed += stats.failed
        self.report()

    def timings(self, started_at: str, t0: float, planning_s: float, *, ran: bool) -> Timings:
        """The run's timings: ``t0`` when it started (perf counter), ``ran`` whether any shard ran."""
        processing_s = time.perf_counter() - self.started
        per_note = max(self.records_run, 1)
        return Timings(
            started_at=started_at,
            finished_at=utc_now(),
            elapsed_s=round(time.perf_counter() - t0, 3),
            planning_s=round(planning_s, 3),
            processing_s=round(processing_s, 3),
            engine_busy_s=round(self.engine_busy_s, 3),
            engine_utilization=round(self.engine_busy_s / (processing_s * self.workers), 3) if ran else 0.0,
            engine_occupancy=round(
                self.engine_request_s / (processing_s * self.workers * self.engine_capacity), 3
            )
            if ran
            else 0.0,
            tokens_per_s=round((self.tokens_in + self.tokens_out) / processing_s, 1) if ran else 0.0,
            prompt_tokens_cached_per_note=round(self.tokens_cached / per_note, 1),
            prompt_tokens_computed_per_note=round((self.tokens_in - self.tokens_cached) / per_note, 1),
        )

    def rate(self) -> float | None:
        """Notes done per second over the last ``RATE_WINDOW_S``; None before a shard is done."""
        clock, done = self._samples[-1]
        first_clock, first_done = self._samples[0]
        if clock <= first_clock or done <= first_done:
            return None
        return (done - first_done) / (clock - first_clock)

    def report(self, final: bool = False) -> None:
        """Call the callback; write _progress.json at most every PROGRESS_INTERVAL_S (and at the end)."""
        if self.on_progress is not None:
            self.on_progress(self.shards_done, self.shards_total, self.records_done, self.failed)
        clock = time.perf_counter()
        self._samples.append((clock, self.records_done))
        while len(self._samples) > 2 and clock - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        if final or clock - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = clock
            rate = self.rate()
            gpu_seconds = self.gpu_seconds()
            remaining = self.records_total - self.records_done
            self.output.write_progress(
                ProgressReport(
                    shards_total=self.shards_total,
                    shards_done=self.shards_done,
                    records_total=self.records_total,
                    records_done=self.records_done,
                    records_failed_this_run=self.failed,
                    tokens_in=self.tokens_in,
                    tokens_out=self.tokens_out,
                    updated_at=utc_now(),
                    elapsed_s=round(clock - self.started, 1),
                    notes_per_s=round(rate, 3) if rate else None,
                    eta_s=round(remaining / rate, 1) if rate else (0.0 if remaining == 0 else None),
                    gpu_seconds=round(gpu_seconds, 1),
                    cost=gpu_cost(gpu_seconds, self.price_per_gpu_hour),
                )
            )

    def gpu_seconds(self) -> float:
        """GPUs held by the engine replicas x the time they have been held, so far."""
        return self.gpus * (time.perf_counter() - self.started)
