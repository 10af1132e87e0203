"""Run LlmEngine on the real vLLM backend in a clean process and print what the test checks, as JSON.

A separate process because vLLM 0.32's CPU kernel dispatcher walks every loaded module and trips over
Flask's ``current_app`` proxy, which moto (the tests' S3 server) loads into the pytest process.

Usage: python -m tests.drivers.vllm_direct MODEL_DIR
"""

from __future__ import annotations

import asyncio
import json
import sys

from devtools.synthetic import synthetic_note
from medbatch.notes.engine import AnalysisRequest, TaskResult
from medbatch.notes.engines.vllm import VllmEngineConfig


async def run(model: str) -> list[TaskResult[object]]:
    """Three notes' PHI requests, then their analyses, all in flight together on vLLM's async engine."""
    config = VllmEngineConfig(
        model=model, max_model_len=2048, max_tokens=48, engine_kwargs={"enforce_eager": True}
    )
    engine = config.build()
    texts = [synthetic_note(i).text for i in range(3)]
    request = AnalysisRequest(entity_types=("PROBLEM", "MEDICATION"), summary_max_words=20)
    try:
        phi = await asyncio.gather(*(engine.find_phi(t) for t in texts))
        analyses = await asyncio.gather(*(engine.analyze(t, request) for t in texts))
    finally:
        engine.backend.close()  # type: ignore[attr-defined]
    return [*phi, *analyses]  # type: ignore[list-item]


def main() -> None:
    """Three notes through find_phi and analyze; errors, tokens and prompt tokens served from the cache."""
    results = asyncio.run(run(sys.argv[1]))
    print(
        json.dumps(
            {
                "errors": [r.error for r in results],
                "tokens_in": [r.tokens_in for r in results],
                "tokens_cached": [r.tokens_cached for r in results],
            }
        )
    )


if __name__ == "__main__":
    main()
