"""Default ModelProfiles validate and map onto engine configs; weights from object storage are copied once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medbatch.jobs import BaselineEngineConfig, JobConfig, OpenAIEngineConfig, VllmEngineConfig
from medbatch.notes.engines import baseline, engine_config_for, engine_config_from_profile
from medbatch.notes.engines.weights import local_model_path
from medbatch.spec import CorpusSpec, ModelProfile, load_model_profile
from tests.corpora import write_bytes

PROFILES = sorted((Path(__file__).resolve().parents[3] / "manifests" / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_default_profiles_map_to_vllm(path: Path) -> None:
    profile = load_model_profile(path)
    config = engine_config_from_profile(profile)
    assert isinstance(config, VllmEngineConfig)
    assert config.tensor_parallel_size == profile.spec.gpu.count
    assert config.temperature == 0.0
    assert config.describe().model == profile.spec.served_model_name
    assert "engine_kwargs" not in config.content_key(), "memory settings do not change outputs"


def profile(spec: dict[str, object]) -> ModelProfile:
    return ModelProfile.model_validate(
        {
            "apiVersion": "medbatch.io/v1alpha1",
            "kind": "ModelProfile",
            "metadata": {"name": "p1"},
            "spec": spec,
        }
    )


def test_pvc_openai_baseline_and_override() -> None:
    pvc = engine_config_from_profile(profile({"source": {"pvc": "weights-70b"}}))
    assert isinstance(pvc, VllmEngineConfig)
    assert pvc.model == "/models/weights-70b"
    assert pvc.describe().model == "p1"
    openai = engine_config_from_profile(profile({"engine": "openai", "endpoint": "http://srv:8000/v1"}))
    assert isinstance(openai, OpenAIEngineConfig)
    assert (openai.base_url, openai.model) == ("http://srv:8000/v1", "p1")
    assert isinstance(engine_config_from_profile(profile({"engine": "baseline"})), BaselineEngineConfig)
    local = engine_config_for("ignored", profile=profile({"source": {"hub": "org/m"}}), model="/mnt/m")
    assert isinstance(local, VllmEngineConfig)
    assert local.model == "/mnt/m"


def test_performance_options_do_not_change_the_config_hash_key() -> None:
    a = VllmEngineConfig(model="m", engine_kwargs={"gpu_memory_utilization": 0.9}, tensor_parallel_size=4)
    b = VllmEngineConfig(model="m", engine_kwargs={"gpu_memory_utilization": 0.8}, tensor_parallel_size=2)
    c = VllmEngineConfig(model="m", max_tokens=512)
    assert a.content_key() == b.content_key()
    assert a.content_key() != c.content_key()


def test_weights_from_s3_are_copied_once(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBATCH_MODEL_CACHE", str(tmp_path / "cache"))
    for name in ("config.json", "sub/tokenizer.json"):
        write_bytes(f"s3://{bucket}/models/tiny/{name}", name.encode())
    first = local_model_path(f"s3://{bucket}/models/tiny/")
    assert (Path(first) / "sub" / "tokenizer.json").read_bytes() == b"sub/tokenizer.json"
    (Path(first) / "config.json").write_bytes(b"kept")
    assert local_model_path(f"s3://{bucket}/models/tiny/") == first
    assert (Path(first) / "config.json").read_bytes() == b"kept", "not downloaded again"
    assert local_model_path("/mnt/weights") == "/mnt/weights"


def test_a_new_prompt_version_changes_the_config_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prompts change answers without any option changing: a job must not reuse rows of older prompts."""
    spec = CorpusSpec.model_validate(
        {"source": {"uri": "s3://in/", "format": "jsonl"}, "tasks": {"ner": {}, "analyzeRawText": True}}
    )
    config = JobConfig(corpus="c", spec=spec, source_uri="s3://in/", output_uri="s3://out/", num_workers=1)
    before = config.config_hash()
    monkeypatch.setattr(
        baseline, "BASELINE_INFO", replace(baseline.BASELINE_INFO, prompt_version="baseline-v9")
    )
    assert config.config_hash() != before
