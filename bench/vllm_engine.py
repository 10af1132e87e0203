"""medbatch's streaming pipeline vs vLLM fed every request at once, on the same requests, in one run.

1. medbatch: notes through the note core (``NoteProcessor``: de-identification, then NER + summary, each
   note's next request sent the moment its previous one is done) with ``2 x capacity`` notes in flight
   on vLLM's async engine. Every request it sends is recorded, with its ``max_tokens`` drawn from a
   skewed distribution (most answers short, a few long), so requests finish at very different times.
2. saturated: the recorded requests, all submitted to the same async engine at once: the most a user
   could get from vLLM on this work. The ratio saturated_s / medbatch_s is medbatch's share of it.
3. engine occupancy during medbatch's run (mean running requests / max_num_seqs) and prompt tokens per
   note computed vs served from the prefix cache.
4. ``ray.data.llm``'s processor on the same requests (one replica; its wall time includes starting the
   engine).

Runs alternate (medbatch, saturated, medbatch, saturated, ...) and the spread is reported, since these
machines are noisy. Defaults use the tiny random model the tests build (CPU); pass --model for a real one.

    python -m bench.vllm_engine --notes 48 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def skewed_max_tokens(request: Any, cap: int) -> int:
    """A request's generation budget, drawn from a Pareto distribution seeded by the request itself."""
    seed = hashlib.sha256(json.dumps(request.messages).encode() + request.schema_name.encode()).digest()
    draw = random.Random(seed).paretovariate(1.3)
    return max(8, min(cap, int(8 * draw)))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Alternate medbatch and saturated runs; return the figures."""
    from vllm.sampling_params import SamplingParams, StructuredOutputsParams

    from devtools.synthetic import synthetic_note
    from devtools.tiny_model import build_tiny_llama
    from medbatch.notes import Note, NoteProcessor, Window
    from medbatch.notes.engines.vllm import VllmEngineConfig
    from medbatch.notes.llm.engine import ChatRequest, Completion
    from medbatch.spec import LimitsSpec, TasksSpec

    model = args.model or str(build_tiny_llama(Path(tempfile.mkdtemp(prefix="mb-tiny-")) / "tiny-llama"))
    config = VllmEngineConfig(
        model=model,
        max_model_len=4096,
        max_tokens=args.max_tokens,
        engine_kwargs={"enforce_eager": True, "max_num_seqs": args.max_num_seqs},
    )
    engine: Any = config.build()
    backend = engine.backend
    recorded: list[ChatRequest] = []
    complete = backend.complete

    async def varied(request: ChatRequest) -> Completion:
        request = dataclasses.replace(request, max_tokens=skewed_max_tokens(request, args.max_tokens))
        recorded.append(request)
        completion: Completion = await complete(request)
        return completion

    backend.complete = varied
    tasks = TasksSpec.model_validate({"deidentify": {}, "ner": {}, "summarize": {"maxWords": 60}})
    notes = [Note(f"n{i}", synthetic_note(i).text) for i in range(args.notes)]
    started = time.perf_counter()
    await engine.find_phi("warm-up note")  # starts the engine; not timed below
    engine_start_s = time.perf_counter() - started
    llm = await backend._started()

    async def run_medbatch() -> dict[str, float]:
        recorded.clear()
        await llm.reset_prefix_cache()
        processor = NoteProcessor(tasks, LimitsSpec(), engine)
        window = Window.for_engine(engine, LimitsSpec())
        engine.meter.take()
        t0 = time.perf_counter()
        done = await window.map(processor.process, notes)
        seconds = time.perf_counter() - t0
        occupancy = engine.meter.take()
        tokens_in = sum(p.output.tokens_in for p in done)
        cached = sum(p.tokens_cached for p in done)
        return {
            "seconds": seconds,
            "occupancy": occupancy.ratio,
            "tokens_out": sum(p.output.tokens_out for p in done),
            "prompt_tokens_computed_per_note": (tokens_in - cached) / len(notes),
            "prompt_tokens_cached_per_note": cached / len(notes),
        }

    async def one(request: ChatRequest) -> None:
        ids = backend._prompt_ids(request.messages)
        params = SamplingParams(
            temperature=0.0,
            max_tokens=request.max_tokens,
            structured_outputs=StructuredOutputsParams(json=request.schema),
        )
        async for _ in llm.generate({"prompt_token_ids": ids}, params, uuid.uuid4().hex):
            pass

    async def run_saturated(requests: Sequence[ChatRequest]) -> float:
        await llm.reset_prefix_cache()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(r) for r in requests))
        return time.perf_counter() - t0

    medbatch_runs: list[dict[str, float]] = []
    saturated_runs: list[float] = []
    requests: list[ChatRequest] = []
    for _ in range(args.rounds):
        medbatch_runs.append(await run_medbatch())
        requests = list(recorded)
        saturated_runs.append(await run_saturated(requests))
    backend.close()
    ratios = [s / m["seconds"] for s, m in zip(saturated_runs, medbatch_runs, strict=True)]
    budgets = [r.max_tokens for r in requests]
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "model": config.describe().model,
        "notes": args.notes,
        "requests_per_run": len(requests),
        "max_num_seqs": args.max_num_seqs,
        "window_notes": Window.for_engine(engine, LimitsSpec()).size,
        "max_tokens_drawn": {
            "median": statistics.median(budgets),
            "p90": sorted(budgets)[int(0.9 * (len(budgets) - 1))],
            "max": max(budgets),
        },
        "medbatch_seconds": [round(m["seconds"], 2) for m in medbatch_runs],
        "saturated_seconds": [round(s, 2) for s in saturated_runs],
        "ratio_medbatch_vs_saturated": {
            "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3),
            "max": round(max(ratios), 3),
        },
        "engine_occupancy": [round(m["occupancy"], 3) for m in medbatch_runs],
        "prompt_tokens_computed_per_note": round(medbatch_runs[-1]["prompt_tokens_computed_per_note"], 1),
        "prompt_tokens_cached_per_note": round(medbatch_runs[-1]["prompt_tokens_cached_per_note"], 1),
        "engine_start_s": round(engine_start_s, 2),
        "recorded_requests": requests,
        "model_path": model,
    }


def main() -> None:
    """Run the measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", help="model folder or hub id (default: build the tiny test model)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--max-num-seqs", type=int, default=32)
    parser.add_argument("--skip-ray-data-llm", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

    results = asyncio.run(measure(args))
    requests = results.pop("recorded_requests")
    model = results.pop("model_path")
    if not args.skip_ray_data_llm:
        results["ray_data_llm"] = _ray_data_llm(model, requests)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vllm_engine.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def _ray_data_llm(model: str, requests: Sequence[Any]) -> dict[str, Any] | str:
    """The same requests through ray.data.llm's vLLM processor (one replica), wall time incl. engine start."""
    try:
        import ray
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    except Exception as exc:  # needs ray[serve] (vLLM's Ray metrics import it)
        return f"not run: ray.data.llm does not import here ({type(exc).__name__})"
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False)
    try:
        config = vLLMEngineProcessorConfig(
            model_source=model,
            engine_kwargs={
                "max_model_len": 4096,
                "enforce_eager": True,
                "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
            },
            concurrency=1,
            batch_size=64,
            placement_group_config={"bundles": [{"CPU": 1}]},  # CPU build: no GPU bundle
        )

        def preprocess(row: dict[str, Any]) -> dict[str, Any]:
            return {
                "messages": json.loads(row["messages"]),
                "sampling_params": {
                    "temperature": 0.0,
                    "max_tokens": int(row["max_tokens"]),
                    "structured_outputs": {"json": json.loads(row["schema"])},
                },
            }

        processor = build_processor(config, preprocess=preprocess, postprocess=lambda row: {"n": 1})
        rows = [
            {"messages": json.dumps(r.messages), "schema": json.dumps(r.schema), "max_tokens": r.max_tokens}
            for r in requests
        ]
        started = time.perf_counter()
        answered = len(processor(ray.data.from_items(rows)).take_all())
        return {
            "seconds_including_engine_start": round(time.perf_counter() - started, 2),
            "requests": answered,
        }
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
