"""The Ray Data job: plan, process pending shards on a pool of workers, commit parts, finish, write the manifest.

Each shard is one Ray Data row handled by a worker actor that owns an engine: it reads the shard's
records, skips the notes already committed, processes the others through the note core, commits their
part and marks the shard done. Keeping a shard inside one
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
import pyarrow as pa

from medbatch.jobs.config import JobConfig, surrogate_key_from_env
from medbatch.jobs.errors import JobError
from medbatch.jobs.finish import finish_run
from medbatch.jobs.loop import LoopThread
from medbatch.jobs.manifest import Changes, Manifest, Timings, build_manifest
from medbatch.jobs.note_index import RECORD_SCHEMA, write_shard_state
from medbatch.jobs.output import TMP_DIR, list_parts, new_part_name, rows_table, write_part
from medbatch.jobs.planning import Shard
from medbatch.jobs.process import ShardStats, process_shard, record_key
from medbatch.jobs.run_lease import owns, take_over
from medbatch.jobs.run_plan import plan_run
from medbatch.jobs.sources.listing import list_source_files
from medbatch.jobs.sources.readers import RawRecord, derived_id, read_slice
from medbatch.jobs.sources.slices import Slice
from medbatch.logs import configure_logging
from medbatch.notes import NoteProcessor, Window
from medbatch.notes.engines import Occupancy
from medbatch.notes.errors import safe_error
from medbatch.notes.tasks.deid.key import key_fingerprint
from medbatch.spec import DepartedNotes
from medbatch.spec.run_files import JOB_FILE, MANIFEST_FILE, PROGRESS_FILE, ProgressReport
from medbatch.storage import StorageError, filesystem, join, read_json, write_json

log = logging.getLogger(__name__)

# Progress is written at most this often (seconds); the operator polls it.
PROGRESS_INTERVAL_S = 2.0


def _occupancy_report(taken: Occupancy) -> dict[str, float]:
    return {
        "engine_busy_s": taken.busy_s,
        "engine_request_s": taken.request_seconds,
        "engine_capacity": taken.capacity,
    }


# Waits between the attempts at reading a slice before its records become error rows for the next run.
_READ_RETRY_DELAYS_S = (0.5, 2.0)


class ShardWorker:
    """A Ray Data actor UDF: one engine per actor, one shard per call, part committed before returning."""

    def __init__(
        self,
        config_json: str,
        source_base: str,
        committed: list[Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        configure_logging()  # worker processes start with Python's defaults, which drop INFO
        config = JobConfig.model_validate_json(config_json)
        # Sorted note keys of the committed rows, shared zero-copy through the object store (wrapped in a
        # list so that Ray hands the reference over instead of resolving it into a copy per argument).
        self.committed: np.ndarray = np.array([], dtype="S16")
        if committed:
            import ray

            self.committed = ray.get(committed[0])
        self.config = config
        self.run_id = run_id
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

    def _is_committed(self, key: bytes) -> bool:
        at = int(np.searchsorted(self.committed, key))
        return at < len(self.committed) and bytes(self.committed[at]) == key

    def run_shard(self, shard: Shard) -> dict[str, Any]:
        """Process the shard's new notes, commit their part, mark the shard done; returns its stats."""
        started = time.perf_counter()
        records = self._read(shard)
        keys = [record_key(record) for record in records]
        todo, seen = [], set()
        for record, key in zip(records, keys, strict=True):
            # A note committed before, or met earlier in this shard, already has (or will have) its row.
            if key not in seen and not self._is_committed(key.rstrip(b"\0")):
                todo.append(record)
            seen.add(key)
        rows, stats = self.loop.run(process_shard(self.processor, self.window, shard.id, todo))
        if self.run_id is not None and not owns(self.fs_out, self.output_path, self.run_id):
            log.warning("shard %s not committed: another run owns the output folder now", shard.id)
            return {"shard": shard.id, "superseded": True}
        if rows:
            write_part(self.fs_out, self.output_path, new_part_name(shard.id), rows_table(rows))
        versions = {s.relpath: s.version for s in shard.slices}
        write_shard_state(
            self.fs_out,
            self.output_path,
            shard.id,
            pa.table(
                {
                    "source_file": [r.relpath for r in records],
                    "source_version": [versions[r.relpath] for r in records],
                    "source_row": [r.row for r in records],
                    "id": [r.id for r in records],
                    "key": keys,
                },
                schema=RECORD_SCHEMA,
            ),
            unread=sum(r.unread for r in records),
        )
        log.info(
            "shard %s done: %d notes processed (%d failed), %d already committed",
            shard.id,
            stats.records,
            stats.failed,
            len(records) - len(todo),
        )
        return {
            "shard": shard.id,
            "records": stats.records,
            "reused": len(records) - len(todo),
            "failed": stats.failed,
            "phi_by_type": dict(stats.phi_by_type),
            "tokens_in": stats.tokens_in,
            "tokens_out": stats.tokens_out,
            "tokens_cached": stats.tokens_cached,
            **_occupancy_report(self.engine.meter.take()),
            "seconds": time.perf_counter() - started,
        }

    def _read_slice(self, slice_: Slice) -> list[RawRecord]:
        """One slice's records, retried with backoff: a throttled or failed GET, a file moved for a moment."""
        spec = self.config.spec.source
        for delay in _READ_RETRY_DELAYS_S:
            try:
                return read_slice(self.fs_in, self.source_base, spec, slice_)
            except Exception as exc:
                log.info("reading a slice failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                time.sleep(delay)
        return read_slice(self.fs_in, self.source_base, spec, slice_)

    def _read(self, shard: Shard) -> list[RawRecord]:
        spec = self.config.spec.source
        records: list[RawRecord] = []
        for slice_ in shard.slices:
            try:
                records.extend(self._read_slice(slice_))
            except Exception as exc:  # the file changed or broke since planning: its rows become error rows
                error = safe_error(f"cannot read {spec.format.value} file", exc)
                log.warning("shard %s: %s (its notes are retried by the next run)", shard.id, error)
                records.extend(
                    RawRecord(
                        derived_id(slice_.relpath, row, spec.format),
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
        if list_parts(fs, output_path):
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


def _superseded(config: JobConfig) -> str:
    return (
        f"another run started on output {config.output_uri} and owns it now; this run stops without "
        "finishing (the parts it committed stay, and the other run counts them as done)"
    )


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
        # A resumed run does not read the shards a stopped attempt committed: their notes are done too.
        self.reused = self.records_done
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
        self.reused += done["reused"]
        self.tokens_cached += done["tokens_cached"]
        elapsed = time.perf_counter() - self.started
        if elapsed > 0:
            self.metrics.occupied(self.engine_request_s / (elapsed * self.workers * self.engine_capacity))
        self.tokens_in += stats.tokens_in
        self.tokens_out += stats.tokens_out
        self.shards_done += 1
        self.records_done += stats.records + done["reused"]
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
    try:
        fs_out, output_path = filesystem(config.output_uri)
    except StorageError as exc:
        raise JobError(str(exc)) from None
    _claim_output(fs_out, output_path, config)
    run_id = take_over(fs_out, output_path)
    plan = plan_run(config, fs_in, base, listed, fs_out, output_path)
    for bad in (f for f in plan.files if f.error):
        log.warning("source file %s skipped: %s", bad.relpath, bad.error)
    shards, pending = plan.shards, plan.pending
    planning_s = time.perf_counter() - t0

    run = _RunProgress(config, fs_out, output_path, shards, pending, on_progress)
    t_process = time.perf_counter()
    if pending:
        dataset = ray.data.from_items(
            [{"shard": s.model_dump_json()} for s in pending], override_num_blocks=len(pending)
        ).map_batches(
            ShardWorker,
            fn_constructor_kwargs={
                "config_json": config.model_dump_json(),
                "source_base": base,
                "committed": [ray.put(plan.committed_keys())],
                "run_id": run_id,
            },
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
            done = json.loads(row["stats"])
            if done.get("superseded"):
                raise JobError(_superseded(config))
            run.shard_committed(done)
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

    keep_departed = config.spec.output.departed_notes is DepartedNotes.KEEP
    if not owns(fs_out, output_path, run_id):
        raise JobError(_superseded(config))
    finished = finish_run(fs_out, output_path, plan, keep_departed=keep_departed)
    changes = Changes(
        files_read=len(plan.files) - plan.unchanged,
        files_unchanged=plan.unchanged,
        notes_processed=run.records_run,
        notes_reused=run.reused,
        rows_removed=finished.rows_removed,
        planning_bytes_read=plan.bytes_read,
    )
    manifest = build_manifest(
        config, plan, finished.index, changes, fs_out, output_path, timings, shards_run=len(pending)
    )
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
