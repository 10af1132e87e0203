"""Corpus and ModelProfile validation: good examples pass, bad ones fail with messages naming the field."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from medbatch.spec import Corpus, ModelProfile, SpecError, load_corpus, parse_resource
from tests.corpora import yaml_bomb

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
            "spec.source.uri: uri scheme is not supported",
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
        ({"model": "OpenBio_70B"}, "spec.model: must be a DNS-1123 label"),
        ({"output": {"uri": "s3://notes/"}}, "output.uri must not be source.uri"),
        ({"limits": {"chunkChars": 1000, "chunkOverlapChars": 600}}, "must be at most half of chunkChars"),
        ({"ray": {"clusterName": "Ray_Head"}}, "spec.ray.clusterName: must be a DNS-1123 label"),
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
    assert any(p.startswith("metadata.name: must be a DNS-1123 label") for p in found)


@pytest.mark.parametrize(
    "change",
    [
        {"replicas": "Patient John Smith DOB 03/14/1950"},
        {"model": "Patient John Smith DOB 03/14/1950"},
        {"source": {"uri": "johnsmith0314://notes", "format": "jsonl"}},
    ],
    ids=["replicas", "model", "uri scheme"],
)
def test_values_are_not_echoed_in_errors(change: dict[str, Any]) -> None:
    secret = "johnsmith0314" if "source" in change else "John Smith"
    found = problems(corpus(**change))
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


def test_duplicate_keys_are_refused_not_last_wins(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("apiVersion: medbatch.io/v1alpha1\nkind: Corpus\nspec:\n  replicas: 1\n  replicas: 64\n")
    with pytest.raises(SpecError, match="duplicate key at line 5"):
        load_corpus(path)


def test_a_yaml_bomb_is_refused_quickly_and_small(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(yaml_bomb())
    # Aliases are counted as they are composed, before anything expands: the 17th stops the load, so
    # memory stays that of the document (measured, not timed: an expansion would need gigabytes).
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match="more than 16 YAML aliases"):
            load_corpus(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "apiVersion: medbatch.io/v1alpha1\nkind: Corpus\nmetadata: {name: c1}\n"
        "spec:\n  source: {uri: s3://notes/, format: jsonl, textField: &column body, idField: *column}\n"
        "  tasks: {deidentify: {}}\n"
    )
    assert load_corpus(path).spec.source.id_field == "body"


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


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("s3://notes/2024/", "s3://notes/2024"),
        ("s3://notes/2024/", "s3://notes/2024/results/"),
        ("s3://notes/2024/results/", "s3://notes/2024"),
        ("s3://notes/2024/", "s3://notes//2024///"),
        ("s3://notes/2024/", "s3://notes/x/../2024"),
        ("/data/notes", "file:///data/notes/out"),
        ("./in", "in/./"),
    ],
)
def test_output_and_source_are_compared_after_normalization(source: str, output: str) -> None:
    found = problems(corpus(source={"uri": source, "format": "jsonl"}, output={"uri": output}))
    assert any("output.uri must not be source.uri, inside it or contain it" in p for p in found), found


@pytest.mark.parametrize(
    ("source", "output"),
    [("s3://notes/2024/", "s3://notes/2024-results/"), ("s3://notes/a/", "s3://results/a/"), ("in", "out")],
)
def test_neighbouring_folders_are_fine(source: str, output: str) -> None:
    parse_resource(corpus(source={"uri": source, "format": "jsonl"}, output={"uri": output}), Corpus, "t")
