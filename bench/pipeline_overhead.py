"""How much does medbatch's pipeline cost around the model?

On one generated corpus (N notes of 1-2 KB in Parquet on a moto S3 server on loopback), in one run:

1. plain pyarrow: read every source file and write it back as Parquet (the I/O floor);
2. the pipeline with a zero-cost engine and no rule-based de-identification: overhead ratio vs (1);
3. the pipeline with an engine of fixed latency per call: engine busy time / (wall x workers);
4. the pipeline with the CPU baseline engine and every task on: records/s of the laptop default;
5. planning an incremental run: 1M notes committed, 1% new, next to a full run's planning
   (``bench/incremental_planning.py``; ``--incremental-only`` runs just this case).

Figures are printed and written as JSON to bench/results/. Ratios are measured within one run because
these machines are noisy; compare ratios, not seconds, across machines.

    python -m bench.pipeline_overhead --notes 100000 --baseline-notes 10000
    python -m bench.pipeline_overhead --incremental-only --incremental-notes 1000000
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

RESULTS = Path(__file__).resolve().parent / "results"


def _start_s3() -> Any:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    return server


def _corpus(fs: Any, prefix: str, notes: int, files: int) -> None:
    """``notes`` synthetic notes of 1-2 KB, split over ``files`` Parquet files."""
    from devtools.synthetic import synthetic_note

    templates = [synthetic_note(i).text for i in range(200)]
    per_file = notes // files
    for f in range(files):
        ids = [f"n{f}-{i}" for i in range(per_file)]
        texts = [(templates[(f * per_file + i) % 200] * 2)[: 1000 + (i * 37) % 1000] for i in range(per_file)]
        sink = io.BytesIO()
        pq.write_table(pa.table({"note_id": ids, "note_text": texts}), sink)
        with fs.open(f"{prefix}/part-{f:04d}.parquet", "wb") as handle:
            handle.write(sink.getvalue())


def _plain_pyarrow(fs: Any, bucket: str) -> float:
    started = time.perf_counter()
    for path in sorted(fs.glob(f"{bucket}/in/*.parquet")):
        with fs.open(path, "rb") as handle:
            table = pq.read_table(handle)
        with fs.open(path.replace("/in/", "/plain/"), "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
    return time.perf_counter() - started


def _pipeline(
    source: str, name: str, tasks: dict[str, Any], engine: Any, workers: int, shard: int
) -> dict[str, Any]:
    from medbatch.jobs import JobConfig, run_job
    from medbatch.spec import CorpusSpec

    bucket = source.removeprefix("s3://").split("/")[0]
    spec = CorpusSpec.model_validate(
        {
            "source": {"uri": source, "format": "parquet", "idField": "note_id", "textField": "note_text"},
            "tasks": tasks,
            "limits": {"shardSize": shard, "batchSize": 256},
        }
    )
    config = JobConfig(
        corpus=name,
        spec=spec,
        source_uri=source,
        output_uri=f"s3://{bucket}/out-{name}",
        engine=engine,
        num_workers=workers,
    )
    started = time.perf_counter()
    manifest = run_job(config, worker_cpus=1.0)
    wall = time.perf_counter() - started
    return {
        "records": manifest.records.total,
        "wall_s": round(wall, 2),
        "records_per_s": round(manifest.records.total / wall, 1),
        "processing_s": manifest.timings.processing_s,
        "engine_utilization": manifest.timings.engine_utilization,
    }


def main() -> None:
    """Run the four measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="fixed engine latency per call")
    parser.add_argument("--baseline-notes", type=int, default=10_000, help="notes for the CPU baseline run")
    parser.add_argument("--incremental-notes", type=int, default=1_000_000, help="committed notes (0: skip)")
    parser.add_argument("--incremental-only", action="store_true", help="run only the incremental case")
    args = parser.parse_args()
    from bench.incremental_planning import measure

    incremental = measure(args.incremental_notes) if args.incremental_notes else None
    if args.incremental_only:
        print(json.dumps({"incremental_planning": incremental}, indent=2))
        return

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    server = _start_s3()
    import ray
    import s3fs

    from medbatch.jobs import BaselineEngineConfig
    from medbatch.notes.engines.fake import FakeEngineConfig

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["AWS_ENDPOINT_URL"]})
    bucket = "bench"
    fs.mkdir(bucket)
    _corpus(fs, f"{bucket}/in", args.notes, args.files)
    _corpus(fs, f"{bucket}/quarter", args.notes // 4, max(1, args.files // 4))
    _corpus(fs, f"{bucket}/base", args.baseline_notes, max(1, args.files * args.baseline_notes // args.notes))
    ray.init(
        num_cpus=max(args.workers, 2),
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="mb-bench-"),
    )
    try:
        plain_s = _plain_pyarrow(fs, bucket)
        no_model = {"ner": {}, "summarize": {}, "analyzeRawText": True}
        source = f"s3://{bucket}/in/"
        zero = _pipeline(source, "zero", no_model, FakeEngineConfig(), args.workers, args.shard_size)
        quarter = _pipeline(
            f"s3://{bucket}/quarter/", "quarter", no_model, FakeEngineConfig(), args.workers, args.shard_size
        )
        # Two sizes separate the fixed cost (Ray and actor start-up) from the cost per record.
        per_record_us = (zero["wall_s"] - quarter["wall_s"]) / (zero["records"] - quarter["records"]) * 1e6
        fixed_s = zero["wall_s"] - per_record_us * zero["records"] / 1e6
        fixed = _pipeline(
            source,
            "fixed",
            no_model,
            FakeEngineConfig(seconds_per_request=args.latency_ms / 1000),
            args.workers,
            args.shard_size,
        )
        all_tasks: dict[str, Any] = {"deidentify": {}, "ner": {}, "summarize": {}}
        baseline = _pipeline(
            f"s3://{bucket}/base/",
            "baseline",
            all_tasks,
            BaselineEngineConfig(),
            args.workers,
            min(args.shard_size, 1000),
        )
    finally:
        ray.shutdown()
        server.stop()
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "notes": args.notes,
        "workers": args.workers,
        "plain_pyarrow_s": round(plain_s, 2),
        "zero_cost_engine": zero,
        "overhead_ratio_vs_pyarrow": round(zero["wall_s"] / plain_s, 2),
        "zero_cost_engine_quarter_size": quarter,
        "pipeline_fixed_cost_s": round(fixed_s, 2),
        "pipeline_cost_per_record_us": round(per_record_us, 1),
        "pyarrow_cost_per_record_us": round(plain_s / args.notes * 1e6, 1),
        f"fixed_{args.latency_ms:g}ms_engine": fixed,
        "baseline_engine_all_tasks": baseline,
        "incremental_planning": incremental,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline_overhead.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
