"""The Ray Data job: plan, learn the corpus memory (a first pass over the pending shards, when
de-identification uses it), run the pending shards on a pool of shard workers, finish, write the manifest.

Each shard is one Ray Data row handled by a ``worker.ShardWorker`` that owns an engine and commits the
shard's part itself; Ray Data provides the streaming execution, backpressure, retries of failed workers and
the progress display. Everything the output folder does is the ledger's (``ledger.OutputFolder``).
"""

from __future__ import annotations

import logging
import time

from medbatch.jobs.config import JobConfig
from medbatch.jobs.errors import JobError
from medbatch.jobs.ledger import Changes, Manifest, OutputFolder, build_manifest
from medbatch.jobs.memory_pass import learn_memory
from medbatch.jobs.progress import ProgressCallback, RunProgress
from medbatch.jobs.sources.listing import list_source_files
from medbatch.jobs.worker import ShardReport, ShardWorker
from medbatch.spec import DepartedNotes
from medbatch.spec.run_files import utc_now

log = logging.getLogger(__name__)


def _superseded(config: JobConfig) -> str:
    return (
        f"another run started on output {config.output_uri} and owns it now; this run stops without "
        "finishing (the parts it committed stay, and the other run counts them as done)"
    )


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

    started_at, t0 = utc_now(), time.perf_counter()
    fs_in, base, listed = list_source_files(config.source_uri, config.spec.source.format)
    output = OutputFolder(config.output_uri)
    output.claim(config)
    lease = output.take_over()
    plan = output.plan(config, fs_in, base, listed)
    skipped = [f for f in plan.files if f.error]
    if skipped:
        # Counted, not named: file names often carry a patient's name or record number, and the job's log
        # is read on the Ray dashboard; the manifest's source_errors names each file.
        log.warning("%d source file(s) skipped (the manifest's source_errors lists them)", len(skipped))
    pending = plan.pending
    planning_s = time.perf_counter() - t0

    gpus_per_worker = config.engine.gpus_per_worker(ray.cluster_resources().get("GPU", 0) > 0)
    run = RunProgress(config, output, plan.shards, pending, on_progress, gpus_per_worker=gpus_per_worker)
    memory = None
    deid = config.spec.tasks.deidentify
    if pending and deid is not None and deid.memory.enabled:
        memory = learn_memory(config, base, pending, output.store, worker_cpus=worker_cpus)
    if pending:
        dataset = ray.data.from_items(
            [{"shard": s.model_dump_json()} for s in pending], override_num_blocks=len(pending)
        ).map_batches(
            ShardWorker,
            fn_constructor_kwargs={
                "config_json": config.model_dump_json(),
                "source_base": base,
                "committed": [ray.put(plan.committed_keys())],
                "lease": lease,
                "memory": [ray.put(memory)] if memory is not None else None,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(
                size=min(config.num_workers, len(pending)),
                max_concurrent_calls_per_actor=config.engine.shards_per_worker,
                enable_true_multi_threading=True,
            ),
            num_cpus=worker_cpus,
            num_gpus=gpus_per_worker or None,
        )
        for row in dataset.iter_rows():
            report = ShardReport.model_validate_json(row["report"])
            if report.superseded:
                raise JobError(_superseded(config))
            run.shard_committed(report)
    run.report(final=True)
    timings = run.timings(started_at, t0, planning_s, ran=bool(pending))
    gpu_seconds = run.gpu_seconds()

    if not output.owns(lease):
        raise JobError(_superseded(config))
    finished = output.finish(plan, keep_departed=config.spec.output.departed_notes is DepartedNotes.KEEP)
    if not finished.committed:
        raise JobError(_superseded(config))
    changes = Changes(
        files_read=len(plan.files) - plan.unchanged,
        files_unchanged=plan.unchanged,
        notes_processed=run.records_run,
        notes_reused=run.reused,
        rows_removed=finished.rows_removed,
        planning_bytes_read=plan.bytes_read,
    )
    manifest = build_manifest(
        config,
        plan,
        finished.index,
        changes,
        output.store,
        timings,
        shards_run=len(pending),
        gpu_seconds=gpu_seconds,
        memory_values=len(memory) if memory is not None else 0,
    )
    output.write_manifest(manifest)
    log.info(
        "job %s: %s (%d records, %d failed)",
        config.corpus,
        manifest.outcome.value,
        manifest.records.total,
        manifest.records.failed,
    )
    return manifest
