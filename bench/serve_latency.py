"""What does the online path cost around the engine? Latency and throughput of /v1/process, in one run.

Starts a local Ray with Serve and medbatch's application on the CPU baseline engine, then, for a few
concurrency levels, sends requests with every task on and prints p50/p95 latency and requests/s. The
same notes processed in-process by the same note core (one note per call, as a request is) give
the floor; the ratios are measured in the same run because these machines are noisy.

    python -m bench.serve_latency --requests 400 --concurrency 1 4 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from devtools.synthetic import synthetic_note

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"deidentify": {}, "ner": {}, "summarize": {"maxWords": 60}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(texts: list[str]) -> list[float]:
    """Seconds per note through the note core directly (the floor)."""
    import asyncio

    from medbatch.notes import Note, NoteProcessor
    from medbatch.notes.engines.baseline import BaselineEngine
    from medbatch.spec import LimitsSpec, TasksSpec

    processor = NoteProcessor(TasksSpec.model_validate(TASKS), LimitsSpec(), BaselineEngine())
    latencies = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        asyncio.run(processor.process(Note(str(i), text)))
        latencies.append(time.perf_counter() - started)
    return latencies


async def load(url: str, texts: list[str], concurrency: int) -> tuple[list[float], float]:
    """Latencies of every request and the wall time, ``concurrency`` requests in flight at once."""
    latencies: list[float] = []
    queue = list(enumerate(texts))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            i, text = queue.pop()
            started = time.perf_counter()
            response = await client.post("/v1/process", json={"id": str(i), "text": text, "tasks": TASKS})
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--port", type=int, default=8197)
    args = parser.parse_args()

    import ray
    from ray import serve

    from medbatch.serve.app import build_app

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(build_app({"settings": {"engine_num_cpus": 1}}), name="bench", route_prefix="/")
    url = f"http://127.0.0.1:{args.port}"
    texts = [synthetic_note(i).text for i in range(args.requests)]
    asyncio.run(load(url, texts[:20], 2))  # warm-up

    floor = in_process(texts)
    floor_p50 = statistics.median(floor)
    floor_rps = len(floor) / sum(floor)
    print(f"in-process note core: p50 {1000 * floor_p50:.2f} ms, {floor_rps:.0f} notes/s (one at a time)")
    results: dict[str, Any] = {"in_process": {"p50_ms": 1000 * floor_p50, "notes_per_s": floor_rps}}
    print(f"{'concurrency':>11} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'p50/floor':>10} {'rps/floor':>10}")
    for concurrency in args.concurrency:
        latencies, wall = asyncio.run(load(url, texts, concurrency))
        p50, p95, rps = statistics.median(latencies), percentile(latencies, 0.95), len(latencies) / wall
        print(
            f"{concurrency:>11} {1000 * p50:>8.1f} {1000 * p95:>8.1f} {rps:>8.1f} "
            f"{p50 / floor_p50:>10.1f} {rps / floor_rps:>10.2f}"
        )
        results[f"c{concurrency}"] = {"p50_ms": 1000 * p50, "p95_ms": 1000 * p95, "requests_per_s": rps}
    serve.shutdown()
    ray.shutdown()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {"requests": args.requests, "machine": platform.platform(), "cpus": os.cpu_count(), **results}
    (out / "serve_latency.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
