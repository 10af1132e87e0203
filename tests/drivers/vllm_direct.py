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
from medbatch.notes.engine import TaskResult
from medbatch.notes.engines.vllm import VllmEngineConfig
from medbatch.notes.stages import STAGES
from medbatch.spec import TasksSpec


async def run(model: str) -> list[TaskResult[object]]:
    """Three notes' PHI requests, then their analyses, all in flight together on vLLM's async engine."""
    config = VllmEngineConfig(
        model=model, max_model_len=2048, max_tokens=48, engine_kwargs={"enforce_eager": True}
    )
    engine = config.build()
    texts = [synthetic_note(i).text for i in range(3)]
    tasks = {
        "ner": {"types": ["PROBLEM", "MEDICATION"]},
        "summarize": {"maxWords": 20},
        "analyzeRawText": True,
    }
    calls = STAGES.calls(TasksSpec.model_validate(tasks))
    try:
        phi = await asyncio.gather(*(engine.find_phi(t) for t in texts))
        stages = await asyncio.gather(*(engine.run(t, calls) for t in texts))
    finally:
        engine.backend.close()  # type: ignore[attr-defined]
    return [*phi, *(result for results in stages for result in results)]


def main() -> None:
    """Three notes through find_phi and the stages; errors, tokens and prompt tokens served from the cache."""
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
