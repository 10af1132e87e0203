"""The online service with the real vLLM engine (CPU build) on a tiny random-weight Llama.

A random model answers junk: each endpoint must still answer a well-formed response (an ``error`` field
saying the model's answer was unusable, the rules' de-identification kept).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytest.importorskip("vllm")

from devtools.tiny_model import build_tiny_llama
from medbatch.jobs import VllmEngineConfig
from medbatch.serve.models import NoteResponse
from tests.serve.conftest import deploy

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

NOTE = "Patient: Rafael Okafor\nSeen by Dr. Ann Lee on 03/14/2024 for hypertension. Metoprolol 25 mg daily."


def test_each_endpoint_answers_well_formed_with_vllm(serve_url: str, tmp_path: Path) -> None:
    model = build_tiny_llama(tmp_path / "tiny-llama")
    config = VllmEngineConfig(
        model=str(model), max_model_len=2048, max_tokens=32, engine_kwargs={"enforce_eager": True}
    )
    prefix = deploy(
        "vllm", {"engine_config": config.model_dump(mode="json"), "settings": {"engine_num_cpus": 1}}
    )
    with httpx.Client(base_url=serve_url + prefix, timeout=300) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        bodies = {
            "/v1/deidentify": {"text": NOTE},
            "/v1/ner": {"text": NOTE},
            "/v1/summarize": {"text": NOTE},
            "/v1/process": {"text": NOTE, "tasks": {"deidentify": {}, "ner": {}, "summarize": {}}},
        }
        for path, body in bodies.items():
            response = client.post(path, json=body)
            assert response.status_code == 200, (path, response.text[:300])
            result = NoteResponse.model_validate(response.json())
            assert result.model == model.name
            assert result.text_deid is not None
            assert "Okafor" not in result.text_deid, "the rules' spans are kept whatever the model says"
            assert result.tokens_in > 0, "the model was called"
