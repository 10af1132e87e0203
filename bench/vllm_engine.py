"""medbatch's vLLM engine layer vs vLLM's ``LLM.chat`` called directly, on the same requests, in one run.

1. medbatch: ``LlmEngine`` (prompts, structured outputs, parsing, verification, one retry) on the vLLM
   backend: de-identification then NER + summary for every note. Every request it sends is recorded.
2. direct: the recorded requests replayed through ``LLM.chat`` with the same sampling parameters and the
   same grouping into calls, so the ratio isolates medbatch's own overhead (target >= 0.9).
3. prefix-cache hit rate while running three tasks per note (system prompt and note shared).
4. NER + summary as one combined request vs two requests sharing the prefix (tokens and time).
5. ``ray.data.llm``'s processor on the same requests (one replica; its wall time includes starting the
   engine, so compare it with medbatch's ``seconds + engine_start_s``).

Defaults use the tiny random model the tests build (CPU); pass --model for a real one (GPU or CPU).

    python bench/vllm_engine.py --notes 64
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _metric(llm: Any, name: str) -> float:
    return float(sum(getattr(m, "value", 0) or 0 for m in llm.get_metrics() if m.name == name))


def main() -> None:
    """Run the measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=64)
    parser.add_argument("--model", help="model folder or hub id (default: build the tiny test model)")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from vllm.sampling_params import SamplingParams, StructuredOutputsParams

    from medbatch.jobs.engines.base import AnalysisRequest
    from medbatch.jobs.engines.vllm import VllmBackend, VllmEngineConfig
    from medbatch.jobs.llm.engine import ChatRequest, Completion, LlmEngine
    from medbatch.testing.synthetic import synthetic_note
    from medbatch.testing.tiny_model import build_tiny_llama

    model = args.model or str(build_tiny_llama(Path(tempfile.mkdtemp(prefix="mb-tiny-")) / "tiny-llama"))
    config = VllmEngineConfig(
        model=model, max_model_len=4096, max_tokens=args.max_tokens, engine_kwargs={"enforce_eager": True}
    )
    started = time.perf_counter()
    backend = VllmBackend(config)
    engine_start_s = time.perf_counter() - started
    llm = backend.llm
    recorded: list[list[ChatRequest]] = []
    complete = backend.complete

    def recording(requests: Sequence[ChatRequest]) -> list[Completion]:
        recorded.append(list(requests))
        return complete(requests)

    backend.complete = recording  # type: ignore[method-assign]
    texts = [synthetic_note(i).text for i in range(args.notes)]
    request = AnalysisRequest(entity_types=("PROBLEM", "MEDICATION", "TEST"), summary_max_words=60)

    def run_medbatch(combine: bool) -> tuple[float, int, int]:
        engine = LlmEngine(backend, config.describe(), config.max_tokens, combine_analysis=combine)
        llm.reset_prefix_cache()
        started = time.perf_counter()
        results = engine.find_phi(texts) + engine.analyze(texts, request)
        elapsed = time.perf_counter() - started
        return elapsed, sum(r.tokens_in for r in results), sum(r.tokens_out for r in results)

    hits0, queries0 = _metric(llm, "vllm:prefix_cache_hits"), _metric(llm, "vllm:prefix_cache_queries")
    medbatch_s, tokens_in, tokens_out = run_medbatch(combine=False)
    hits = _metric(llm, "vllm:prefix_cache_hits") - hits0
    queries = _metric(llm, "vllm:prefix_cache_queries") - queries0
    calls = list(recorded)

    llm.reset_prefix_cache()
    started = time.perf_counter()
    for batch in calls:
        params = [
            SamplingParams(
                temperature=0.0,
                max_tokens=r.max_tokens,
                structured_outputs=StructuredOutputsParams(json=r.schema),
            )
            for r in batch
        ]
        llm.chat([r.messages for r in batch], sampling_params=params, use_tqdm=False)
    direct_s = time.perf_counter() - started

    combined_s, combined_in, combined_out = run_medbatch(combine=True)

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "model": config.describe().model,
        "notes": args.notes,
        "requests": sum(len(c) for c in calls),
        "medbatch": {
            "seconds": round(medbatch_s, 2),
            "records_per_s": round(args.notes / medbatch_s, 2),
            "tokens_per_s": round((tokens_in + tokens_out) / medbatch_s, 1),
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
        },
        "direct_llm_chat_seconds": round(direct_s, 2),
        "throughput_ratio_medbatch_vs_direct": round(direct_s / medbatch_s, 3),
        "prefix_cache_hit_rate": round(hits / queries, 3) if queries else None,
        "combined_analysis": {
            "seconds": round(combined_s, 2),
            "tokens_in": combined_in,
            "tokens_out": combined_out,
            "vs_separate_time_ratio": round(combined_s / medbatch_s, 3),
        },
        "engine_start_s": round(engine_start_s, 2),
        "ray_data_llm": _ray_data_llm(model, [r for batch in calls for r in batch]),
    }
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
