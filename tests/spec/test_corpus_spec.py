"""Corpus and ModelProfile validation: good examples pass, bad ones fail with messages naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medbatch.spec import Corpus, ModelProfile, SpecError, load_corpus, parse_resource

EXAMPLES = sorted((Path(__file__).parents[2] / "manifests" / "examples").glob("*.yaml"))


def corpus(**spec: Any) -> dict[str, Any]:
    body = {"source": {"uri": "s3://notes/", "format": "parquet"}, "tasks": {"deidentify": {}}, **spec}
    return {"apiVersion": "medbatch.io/v1alpha1", "kind": "Corpus", "metadata": {"name": "c1"}, "spec": body}


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_resource(document, Corpus, "test.yaml")
    return info.value.problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    assert load_corpus(path).metadata.name


def test_defaults() -> None:
    spec = parse_resource(corpus(), Corpus, "t").spec
    assert spec.tasks.deidentify is not None
    assert spec.tasks.deidentify.strategy.value == "mask"
    assert spec.model == "openbiollm-70b"
    assert spec.replicas == 1
    assert not spec.output.include_phi_spans
    assert spec.limits.shard_size == 1000


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"source": {"uri": "s3://n/", "fromat": "csv", "format": "csv"}},
            "spec.source.fromat: unknown field; allowed here: format, idField, patientField, textField, uri",
        ),
        (
            {"source": {"uri": "s3://n/", "format": "xml"}},
            "spec.source.format: Input should be 'parquet', 'jsonl', 'csv' or 'text'",
        ),
        (
            {"source": {"uri": "ftp://n/", "format": "csv"}},
            "spec.source.uri: uri scheme 'ftp://' is not supported",
        ),
        ({"source": {"format": "csv"}}, "spec.source.uri: required field is missing"),
        ({"tasks": {}}, "spec.tasks: no task is enabled"),
        ({"tasks": {"summarize": {}}}, "ner and summarize run on de-identified text by default"),
        (
            {"tasks": {"deidentify": {"strategy": "blur"}}},
            "spec.tasks.deidentify.strategy: Input should be 'mask', 'redact' or 'surrogate'",
        ),
        (
            {"tasks": {"ner": {"types": ["DISEASE"]}, "deidentify": {}}},
            "spec.tasks.ner.types.0: Input should be",
        ),
        ({"replicas": 0}, "spec.replicas: Input should be greater than or equal to 1"),
        ({"model": "OpenBio_70B"}, "spec.model: 'OpenBio_70B' is not a valid ModelProfile name"),
        ({"output": {"uri": "s3://notes/"}}, "output.uri must differ from source.uri"),
        ({"limits": {"chunkChars": 1000, "chunkOverlapChars": 600}}, "must be at most half of chunkChars"),
        ({"ray": {"clusterName": "Ray_Head"}}, "spec.ray.clusterName: clusterName must be a RayCluster name"),
        ({"ray": {"address": "http://raycluster-head:8265"}}, "spec.ray.address: unknown field"),
    ],
)
def test_invalid_spec_is_explained(change: dict[str, Any], expected: str) -> None:
    found = problems(corpus(**change))
    assert any(expected in p for p in found), found


def test_metadata_and_kind_are_checked() -> None:
    document = corpus()
    document["metadata"]["name"] = "Bad_Name"
    document["kind"] = "Corpora"
    found = problems(document)
    assert any(p.startswith("kind: Input should be 'Corpus'") for p in found)
    assert any(p.startswith("metadata.name: 'Bad_Name' is not a valid name") for p in found)


def test_values_are_not_echoed_in_errors() -> None:
    secret = "Patient John Smith DOB 03/14/1950"
    found = problems(corpus(replicas=secret))
    assert found
    assert all(secret not in p for p in found)


def test_yaml_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_corpus(bad)
    with pytest.raises(SpecError, match="file not found"):
        load_corpus(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        load_corpus(tmp_path / "list.yaml")


def test_model_profile_rules() -> None:
    base = {"apiVersion": "medbatch.io/v1alpha1", "kind": "ModelProfile", "metadata": {"name": "m"}}
    good = {
        **base,
        "spec": {
            "source": {"hub": "aaditya/Llama3-OpenBioLLM-70B"},
            "tensorParallelSize": 4,
            "gpu": {"count": 4},
        },
    }
    assert parse_resource(good, ModelProfile, "p").spec.tensor_parallel_size == 4
    cases = [
        ({"source": {"hub": "a", "uri": "s3://b"}}, "set exactly one of hub, uri, pvc (got hub, uri)"),
        ({}, "engine vllm needs source"),
        ({"source": {"hub": "a"}, "tensorParallelSize": 4, "gpu": {"count": 6}}, "must be a multiple"),
        ({"engine": "openai"}, "engine openai needs endpoint"),
    ]
    for spec, expected in cases:
        with pytest.raises(SpecError) as info:
            parse_resource({**base, "spec": spec}, ModelProfile, "p")
        assert any(expected in p for p in info.value.problems), info.value.problems


def test_existing_ray_cluster() -> None:
    spec = parse_resource(corpus(ray={"clusterName": "shared-gpus"}), Corpus, "t").spec
    assert spec.ray is not None
    assert spec.ray.cluster_name == "shared-gpus"
