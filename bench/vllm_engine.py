"""medbatch's vLLM engine layer vs vLLM's ``LLM.chat`` called directly, on the same requests, in one run.

1. medbatch: ``LlmEngine`` (prompts, structured outputs, parsing, verification, one retry) on the vLLM
   backend: de-identification then NER + summary for every note. Every request it sends is recorded.
2. direct: the recorded requests replayed through ``LLM.chat`` with the same sampling parameters and the
   same grouping into calls, so the ratio isolates medbatch's own overhead (target >= 0.9).
3. prefix-cache hit rate while running three tasks per note (system prompt and note shared).
4. NER + summary as one combined request vs two requests sharing the prefix (tokens and time).
5. ``ray.data.llm``'s processor on the same prompts, when it runs in this environment.

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
    backend = VllmBackend(config)
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

    recorded.clear()
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
        "ray_data_llm": _ray_data_llm_note(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vllm_engine.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def _ray_data_llm_note() -> str:
    try:
        import ray.data.llm  # noqa: F401
    except Exception as exc:  # its import pulls ray[serve] and ray[llm], which pins the CUDA vLLM
        return f"not run: ray.data.llm does not import here ({type(exc).__name__})"
    return (
        "importable; not compared in this run (see docs/architecture.md for why medbatch has its own stage)"
    )


if __name__ == "__main__":
    main()
