"""Run LlmEngine on the real vLLM backend in a clean process and print what the test checks, as JSON.

A separate process because vLLM 0.32's CPU kernel dispatcher walks every loaded module and trips over
Flask's ``current_app`` proxy, which moto (the tests' S3 server) loads into the pytest process.

Usage: python -m tests.drivers.vllm_direct MODEL_DIR
"""

from __future__ import annotations

import json
import sys

from medbatch.jobs.engines.base import AnalysisRequest
from medbatch.jobs.engines.vllm import VllmBackend, VllmEngineConfig
from medbatch.jobs.llm.engine import LlmEngine
from medbatch.testing.synthetic import synthetic_note


def main() -> None:
    """Three notes through find_phi and analyze; errors, tokens and prefix-cache counters."""
    config = VllmEngineConfig(
        model=sys.argv[1], max_model_len=2048, max_tokens=48, engine_kwargs={"enforce_eager": True}
    )
    backend = VllmBackend(config)
    engine = LlmEngine(backend, config.describe(), config.max_tokens, combine_analysis=False)
    texts = [synthetic_note(i).text for i in range(3)]
    results = engine.find_phi(texts) + engine.analyze(
        texts, AnalysisRequest(entity_types=("PROBLEM", "MEDICATION"), summary_max_words=20)
    )
    metrics = {m.name: getattr(m, "value", None) for m in backend.llm.get_metrics()}
    print(
        json.dumps(
            {
                "errors": [r.error for r in results],
                "tokens_in": [r.tokens_in for r in results],
                "prefix_cache_hits": metrics.get("vllm:prefix_cache_hits"),
                "prefix_cache_queries": metrics.get("vllm:prefix_cache_queries"),
            }
        )
    )


if __name__ == "__main__":
    main()
