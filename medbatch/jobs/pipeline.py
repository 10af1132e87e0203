"""The Ray Data job: plan shards, process pending shards on a pool of workers, commit parts, write the manifest.

Each shard is one Ray Data row handled by a worker actor that owns an engine: it reads the shard's
records, processes them through the note core, writes the part and commits it. Keeping a shard inside one
worker call is what makes "one part per shard, exactly once" hold regardless of how Ray Data sizes or
splits blocks; Ray Data provides the streaming execution, backpressure, retries of failed workers and the
progress display. Inside a worker, the shards it runs at once feed one window of notes in flight, so the
engine gets a note's next request as soon as it is ready and never drains at a shard's end.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from medbatch.jobs.config import JobConfig, surrogate_key_from_env
from medbatch.jobs.errors import JobError
from medbatch.jobs.loop import LoopThread
from medbatch.jobs.manifest import (
    Counts,
    Manifest,
    PartInfo,
    SourceProblem,
    Timings,
    decide_outcome,
    stats_metadata,
    summarize_parts,
)
from medbatch.jobs.output import PARTS_DIR, TMP_DIR, committed_shards, part_name, write_part
from medbatch.jobs.planning import Shard, plan_shards
from medbatch.jobs.process import ShardStats, process_shard
from medbatch.jobs.sources.listing import SourceFile, list_source_files, with_row_counts
from medbatch.jobs.sources.readers import RawRecord, derived_id, read_slice
from medbatch.jobs.storage import filesystem, join, read_json, write_json
from medbatch.logs import configure_logging
from medbatch.notes import NoteProcessor, Window
from medbatch.notes.engines import Occupancy
from medbatch.notes.errors import safe_error
from medbatch.notes.tasks.deid.surrogates import key_fingerprint
from medbatch.spec.run_files import JOB_FILE, MANIFEST_FILE, PROGRESS_FILE, ProgressReport

log = logging.getLogger(__name__)

# Progress is written at most this often (seconds); the operator polls it.
PROGRESS_INTERVAL_S = 2.0


def _occupancy_report(taken: Occupancy) -> dict[str, float]:
    return {
        "engine_busy_s": taken.busy_s,
        "engine_request_s": taken.request_seconds,
        "engine_capacity": taken.capacity,
    }


class ShardWorker:
    """A Ray Data actor UDF: one engine per actor, one shard per call, part committed before returning."""

    def __init__(self, config_json: str, source_base: str) -> None:
        configure_logging()  # worker processes start with Python's defaults, which drop INFO
        config = JobConfig.model_validate_json(config_json)
        self.config = config
        self.source_base = source_base
        self.fs_in, _ = filesystem(config.source_uri)
        self.fs_out, self.output_path = filesystem(config.output_uri)
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
        )
        self.window = Window.for_engine(self.engine, spec.limits)
        self.loop = LoopThread()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"stats": []}
        for shard_json in batch["shard"]:
            shard = Shard.model_validate_json(str(shard_json))
            out["stats"].append(json.dumps(self.run_shard(shard)))
        return out

    def run_shard(self, shard: Shard) -> dict[str, Any]:
        """Process and commit one shard; returns its stats as a JSON-able dict."""
        started = time.perf_counter()
        records = self._read(shard)
        rows, stats = self.loop.run(process_shard(self.processor, self.window, shard.id, records))
        errors = Counter(row["error"] for row in rows if row["error"] is not None)
        write_part(self.fs_out, self.output_path, shard.id, rows, stats_metadata(stats, errors))
        log.info("shard %s committed: %d records, %d failed", shard.id, stats.records, stats.failed)
        return {
            "shard": shard.id,
            "records": stats.records,
            "failed": stats.failed,
            "phi_by_type": dict(stats.phi_by_type),
            "tokens_in": stats.tokens_in,
            "tokens_out": stats.tokens_out,
            "tokens_cached": stats.tokens_cached,
            **_occupancy_report(self.engine.meter.take()),
            "seconds": time.perf_counter() - started,
        }

    def _read(self, shard: Shard) -> list[RawRecord]:
        spec = self.config.spec.source
        records: list[RawRecord] = []
        for slice_ in shard.slices:
            try:
                records.extend(read_slice(self.fs_in, self.source_base, spec, slice_))
            except Exception as exc:  # the file changed or broke since planning: its rows become error rows
                error = safe_error(f"cannot read {spec.format.value} file", exc)
                log.warning("shard %s: %s", shard.id, error)
                records.extend(
                    RawRecord(
                        derived_id(slice_.relpath, row, spec.format), None, None, slice_.relpath, row, error
                    )
                    for row in range(slice_.start, slice_.stop)
                )
        return records


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _claim_output(fs: Any, output_path: str, config: JobConfig) -> None:
    """Refuse to mix results of different configurations in one output folder.

    A damaged ``_job.json`` (a run stopped while writing it) is claimed again when no part is committed
    yet, since nothing can be mixed; with committed parts the run stops with a message saying what to do.
    """
    marker = join(output_path, JOB_FILE)
    config_hash = config.config_hash()
    try:
        claimed = read_json(fs, marker)
    except ValueError as exc:
        if committed_shards(fs, output_path):
            raise JobError(
                f"{exc}, and {config.output_uri} holds committed parts whose configuration it recorded: "
                "delete _job.json if those parts were made with this Corpus (it is then claimed again), or "
                "write to a new output.uri"
            ) from None
        log.warning("%s; no part is committed yet, so the folder is claimed again", exc)
        claimed = None
    if claimed is not None:
        existing = claimed.get("config_hash")
        if existing != config_hash:
            raise JobError(
                f"output {config.output_uri} holds results of another configuration (config hash {existing}, "
                f"this run {config_hash}): the tasks, limits, engine or surrogate key changed. Write to a new "
                "output.uri, or delete the old results to start over."
            )
        return
    fs.makedirs(output_path, exist_ok=True)
    write_json(fs, marker, {"corpus": config.corpus, "config_hash": config_hash, "created_at": _now()})


ProgressCallback = Callable[[int, int, int, int], None]


class _RunProgress:
    """What this run has done so far: fed by committed shards, reported to _progress.json and Ray metrics."""

    def __init__(
        self,
        config: JobConfig,
        fs_out: Any,
        output_path: str,
        shards: list[Shard],
        pending: list[Shard],
        on_progress: ProgressCallback | None,
    ) -> None:
        from medbatch.jobs.metrics import JobMetrics

        self.metrics = JobMetrics(config.corpus)
        self.fs_out, self.path = fs_out, join(output_path, PROGRESS_FILE)
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
        self.started = time.perf_counter()
        self.records_run = 0
        self.tokens_cached = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self._last_write = 0.0

    def shard_committed(self, done: dict[str, Any]) -> None:
        """Account one shard worker's report."""
        stats = ShardStats(
            records=done["records"],
            failed=done["failed"],
            phi_by_type=Counter(done["phi_by_type"]),
            tokens_in=done["tokens_in"],
            tokens_out=done["tokens_out"],
            tokens_cached=done["tokens_cached"],
        )
        self.metrics.add(stats)
        self.engine_busy_s += done["engine_busy_s"]
        self.engine_request_s += done["engine_request_s"]
        self.engine_capacity = int(done["engine_capacity"])
        self.records_run += stats.records
        self.tokens_cached += done["tokens_cached"]
        elapsed = time.perf_counter() - self.started
        if elapsed > 0:
            self.metrics.occupied(self.engine_request_s / (elapsed * self.workers * self.engine_capacity))
        self.tokens_in += stats.tokens_in
        self.tokens_out += stats.tokens_out
        self.shards_done += 1
        self.records_done += stats.records
        self.failed += stats.failed
        self.report()

    def report(self, final: bool = False) -> None:
        """Call the callback; write _progress.json at most every PROGRESS_INTERVAL_S (and at the end)."""
        if self.on_progress is not None:
            self.on_progress(self.shards_done, self.shards_total, self.records_done, self.failed)
        now = time.perf_counter()
        if final or now - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = now
            report = ProgressReport(
                shards_total=self.shards_total,
                shards_done=self.shards_done,
                records_total=self.records_total,
                records_done=self.records_done,
                records_failed_this_run=self.failed,
                tokens_in=self.tokens_in,
                tokens_out=self.tokens_out,
                updated_at=_now(),
            )
            write_json(self.fs_out, self.path, report.model_dump())


def run_job(
    config: JobConfig,
    *,
    worker_cpus: float = 1.0,
    on_progress: ProgressCallback | None = None,
) -> Manifest:
    """Run the job on the current Ray cluster (``ray.init`` must have been called) and return the manifest.

    Args:
        config: the job configuration.
        worker_cpus: CPUs reserved per shard worker actor (engine replica); GPUs come from the engine config.
        on_progress: called as ``(shards_done, shards_total, records_done, records_failed)`` after each shard.

    Raises:
        JobError: the job cannot run (no source, output of another configuration, missing key).
    """
    import ray

    started_at, t0 = _now(), time.perf_counter()
    source_format = config.spec.source.format
    fs_in, base, listed = list_source_files(config.source_uri, source_format)
    fs_out, output_path = filesystem(config.output_uri)
    _claim_output(fs_out, output_path, config)
    files = with_row_counts(fs_in, base, listed, source_format)
    for bad in (f for f in files if f.error):
        log.warning("source file %s skipped: %s", bad.relpath, bad.error)
    shards = plan_shards([f for f in files if f.error is None], config.spec.limits.shard_size)
    done_before = committed_shards(fs_out, output_path)
    pending = [s for s in shards if s.id not in done_before]
    planning_s = time.perf_counter() - t0
    log.info(
        "planned %d shards (%d already committed, %d to run)",
        len(shards),
        len(shards) - len(pending),
        len(pending),
    )

    run = _RunProgress(config, fs_out, output_path, shards, pending, on_progress)
    t_process = time.perf_counter()
    if pending:
        dataset = ray.data.from_items(
            [{"shard": s.model_dump_json()} for s in pending], override_num_blocks=len(pending)
        ).map_batches(
            ShardWorker,
            fn_constructor_kwargs={"config_json": config.model_dump_json(), "source_base": base},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(
                size=min(config.num_workers, len(pending)),
                max_concurrent_calls_per_actor=config.engine.shards_per_worker,
                enable_true_multi_threading=True,
            ),
            num_cpus=worker_cpus,
            num_gpus=config.engine.gpus_per_worker(ray.cluster_resources().get("GPU", 0) > 0) or None,
        )
        for row in dataset.iter_rows():
            run.shard_committed(json.loads(row["stats"]))
    run.report(final=True)
    processing_s = time.perf_counter() - t_process
    workers = min(config.num_workers, max(len(pending), 1))
    timings = Timings(
        started_at=started_at,
        finished_at=_now(),
        elapsed_s=round(time.perf_counter() - t0, 3),
        planning_s=round(planning_s, 3),
        processing_s=round(processing_s, 3),
        engine_busy_s=round(run.engine_busy_s, 3),
        engine_utilization=round(run.engine_busy_s / (processing_s * workers), 3) if pending else 0.0,
        engine_occupancy=round(run.engine_request_s / (processing_s * workers * run.engine_capacity), 3)
        if pending
        else 0.0,
        tokens_per_s=round((run.tokens_in + run.tokens_out) / processing_s, 1) if pending else 0.0,
        prompt_tokens_cached_per_note=round(run.tokens_cached / max(run.records_run, 1), 1),
        prompt_tokens_computed_per_note=round(
            (run.tokens_in - run.tokens_cached) / max(run.records_run, 1), 1
        ),
    )

    manifest = _build_manifest(config, shards, len(pending), files, fs_out, output_path, timings)
    write_json(fs_out, join(output_path, MANIFEST_FILE), manifest.model_dump(mode="json"))
    tmp = join(output_path, TMP_DIR)
    if fs_out.exists(tmp):
        fs_out.rm(tmp, recursive=True)
    log.info(
        "job %s: %s (%d records, %d failed)",
        config.corpus,
        manifest.outcome.value,
        manifest.records.total,
        manifest.records.failed,
    )
    return manifest


def _build_manifest(
    config: JobConfig,
    shards: list[Shard],
    shards_run: int,
    files: list[SourceFile],
    fs_out: Any,
    output_path: str,
    timings: Timings,
) -> Manifest:
    summaries = summarize_parts(fs_out, output_path, [s.id for s in shards])
    counts = Counts(total=sum(p.records for p in summaries), failed=sum(p.failed for p in summaries))
    counts.ok = counts.total - counts.failed
    phi: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    ids: Counter[str] = Counter()
    for part in summaries:
        phi.update(part.phi_by_type)
        errors.update(part.errors)
        ids.update(part.ids)
    source_errors = [f for f in files if f.error]
    outcome, reason = decide_outcome(counts, source_errors, errors)
    engine = config.engine.describe()
    return Manifest(
        corpus=config.corpus,
        outcome=outcome,
        reason=reason,
        config_hash=config.config_hash(),
        engine=engine.name,
        model=engine.model,
        prompt_version=engine.prompt_version,
        records=counts,
        shards_planned=len(shards),
        shards_run=shards_run,
        parts=[
            PartInfo(
                file=f"{PARTS_DIR}/{part_name(p.shard)}", shard=p.shard, records=p.records, failed=p.failed
            )
            for p in summaries
        ],
        source_errors=[SourceProblem(file=f.relpath, error=f.error or "") for f in source_errors],
        phi_found=dict(sorted(phi.items())),
        top_errors=dict(errors.most_common(10)),
        duplicate_ids=sum(1 for n in ids.values() if n > 1),
        tokens_in=sum(p.tokens_in for p in summaries),
        tokens_out=sum(p.tokens_out for p in summaries),
        timings=timings,
    )
