"""The CRDs: generated from the models, structural, accepting the examples, rejecting invalid resources."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.crds import corpus_crd, model_profile_crd, render_all
from tests.operator.crd_checks import (
    cel_failures,
    cel_type_errors,
    schema_errors,
    schema_of,
    structural_problems,
    unbounded,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "manifests" / "examples").glob("*.yaml"))
PROFILES = sorted((ROOT / "manifests" / "profiles").glob("*.yaml"))
# Every CRD a user can install: the generated files, the chart's copies and the single-file install.
INSTALLED_CRDS = [
    (f"{path.relative_to(ROOT)}:{crd['metadata']['name']}", crd)
    for path in sorted(
        [
            *(ROOT / "manifests" / "crds").glob("*.yaml"),
            *(ROOT / "charts" / "medbatch" / "crds").glob("*.yaml"),
            ROOT / "manifests" / "install" / "crds.yaml",
        ]
    )
    for crd in yaml.safe_load_all(path.read_text())
    if crd and crd.get("kind") == "CustomResourceDefinition"
]


def test_committed_crds_are_current() -> None:
    for name, text in render_all().items():
        assert (ROOT / "manifests" / "crds" / name).read_text() == text, (
            "regenerate: python -m devtools.crds manifests/crds"
        )


@pytest.mark.parametrize("crd", [c for _, c in INSTALLED_CRDS], ids=[n for n, _ in INSTALLED_CRDS])
def test_schemas_are_structural_and_bounded(crd: dict[str, Any]) -> None:
    assert list(structural_problems(schema_of(crd))) == []
    assert list(unbounded(schema_of(crd))) == [], "the API server's CEL cost estimate needs these bounds"


@pytest.mark.parametrize("crd", [c for _, c in INSTALLED_CRDS], ids=[n for n, _ in INSTALLED_CRDS])
def test_every_cel_rule_compiles_against_the_declared_schema(crd: dict[str, Any]) -> None:
    assert len(INSTALLED_CRDS) >= 5
    assert cel_type_errors(crd) == []


def _with_rule(crd: dict[str, Any], rule: str, *, status: dict[str, Any] | None = None) -> dict[str, Any]:
    crd = copy.deepcopy(crd)
    schema = schema_of(crd)
    schema["x-kubernetes-validations"] = [{"rule": rule, "message": "m"}]
    if status is not None:
        schema["properties"]["status"] = status
    return crd


@pytest.mark.parametrize(
    ("rule", "status", "error"),
    [
        # The rule medbatch shipped with a free-form status: the API server refused the CRD.
        (
            "!has(oldSelf.status) || !has(oldSelf.status.rayJob)",
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "undefined field 'rayJob'",
        ),
        ("self.spec.replicas == 'four'", None, "no matching overload"),
        ("self.spec.source.uri.isURL()", None, "undeclared reference to 'isURL'"),
        ("self.spec.sourse.uri == ''", None, "undefined field 'sourse'"),
        ("self.metadata.labels.size() > 0", None, "undefined field 'labels'"),
        ("self.spec.replicas", None, "does not return a bool"),
    ],
)
def test_the_type_check_refuses_what_the_api_server_refuses(
    rule: str, status: dict[str, Any] | None, error: str
) -> None:
    errors = cel_type_errors(_with_rule(corpus_crd(), rule, status=status))
    assert len(errors) == 1, errors
    assert error in errors[0]


def test_corpus_crd_shape() -> None:
    crd = corpus_crd()
    spec = crd["spec"]
    assert (spec["scope"], spec["names"]["shortNames"]) == ("Namespaced", ["corp"])
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Phase", "Reason", "Progress", "ETA", "GPU-h", "Model", "Age"]
    status = schema_of(crd)["properties"]["status"]["properties"]
    assert {"rayJob", "submissionId", "phase", "reason", "conditions"} <= set(status)
    assert model_profile_crd()["spec"]["scope"] == "Cluster"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_schema_and_rules(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    assert schema_errors(corpus_crd(), document) == []
    assert cel_failures(corpus_crd(), document) == []


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_profiles_pass_schema(path: Path) -> None:
    assert schema_errors(model_profile_crd(), yaml.safe_load(path.read_text())) == []


def corpus(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = yaml.safe_load(
        (ROOT / "manifests" / "examples" / "cardiology-s3.yaml").read_text()
    )
    base["spec"].update(spec)
    return base


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"replicas": 0}, "spec/replicas: 0 is less than the minimum of 1"),
        ({"source": {"uri": "s3://a/", "format": "xml"}}, "spec/source/format: 'xml' is not one of"),
        ({"source": {"format": "csv"}}, "spec/source: 'uri' is a required property"),
        (
            {"tasks": {"deidentify": {"strategy": "blur"}}},
            "spec/tasks/deidentify/strategy: 'blur' is not one of",
        ),
        ({"limits": {"shardSize": -5}}, "spec/limits/shardSize: -5 is less than the minimum of 1"),
    ],
)
def test_schema_rejects_invalid_values(change: dict[str, Any], expected: str) -> None:
    errors = schema_errors(corpus_crd(), corpus(**change))
    assert any(e.startswith(expected) for e in errors), errors


def test_cel_rejects_output_equal_to_source() -> None:
    document = corpus(output={"uri": "s3://notes/cardiology/2024"})
    assert cel_failures(corpus_crd(), document) == [
        "output.uri must not be source.uri, inside it or contain it: results would be mixed into the input "
        "(a rerun would read its own output back)"
    ]


def test_cel_freezes_a_started_corpus_except_suspend() -> None:
    running = corpus()
    running["status"] = {"phase": "Running", "rayJob": "medbatch-cardiology-2024"}
    changed = copy.deepcopy(running)
    changed["spec"]["replicas"] = 8
    assert cel_failures(corpus_crd(), changed, old=running) == [
        "a Corpus that has started cannot change except spec.suspend: create a new Corpus (or delete and "
        "re-create this one) to change it"
    ]
    suspended = copy.deepcopy(running)
    suspended["spec"]["suspend"] = True
    assert cel_failures(corpus_crd(), suspended, old=running) == []
    started = copy.deepcopy(running)
    started["status"] = {"phase": "Pending", "submissionId": "medbatch-uid"}
    started_changed = copy.deepcopy(started)
    started_changed["spec"]["replicas"] = 8
    assert len(cel_failures(corpus_crd(), started_changed, old=started)) == 1, (
        "started, though not running yet"
    )
    never_started = copy.deepcopy(running)
    never_started["status"] = {"phase": "Failed", "reason": "ModelProfileNotFound"}
    assert cel_failures(corpus_crd(), changed, old=never_started) == [], (
        "a Corpus that never started can be fixed"
    )
    removed = copy.deepcopy(running)
    del removed["spec"]["credentials"]
    assert len(cel_failures(corpus_crd(), removed, old=running)) == 1
    unfrozen = copy.deepcopy(changed)
    del unfrozen["status"]["rayJob"]
    assert "status.rayJob cannot change or be removed once set" in " ".join(
        cel_failures(corpus_crd(), unfrozen, old=running)
    ), "clearing the status does not lift the freeze"
