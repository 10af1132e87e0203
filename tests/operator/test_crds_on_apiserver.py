"""The CRDs on a real Kubernetes API server (1.35.7's apiextensions machinery): every example installs,
every row of the admission parity table is refused (or accepted) as the table says, and the status
subresource cannot lift a started Corpus's spec freeze.

The server binary is in ``../shared/tools`` beside the checkout, like the KubeRay CRDs other tests read.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from devtools.crds import corpus_crd, model_profile_crd
from medbatch.operator.status import replacing
from tests.operator.apiserver import TOOL, ApiServer, running_apiserver
from tests.operator.test_admission_parity import (
    CRD,
    EVERY_ROW,
    OPERATOR,
    PRUNED,
    ROOT,
    Change,
    _corpus,
    _profile,
)

pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="the API server is in ../shared/tools")

NAMESPACE = "research"
CORPORA = f"/apis/medbatch.io/v1alpha1/namespaces/{NAMESPACE}/corpora"
PROFILES = "/apis/medbatch.io/v1alpha1/modelprofiles"
STRICT = {"fieldValidation": "Strict"}  # what kubectl apply and create send by default


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    with running_apiserver() as api:
        api.install_crd(corpus_crd())
        api.install_crd(model_profile_crd())
        yield api


def _create(server: ApiServer, kind: str, document: dict[str, Any]) -> httpx.Response:
    document = copy.deepcopy(document)
    if kind == "Corpus":
        document["metadata"]["namespace"] = NAMESPACE
        return server.client.post(CORPORA, json=document, params=STRICT)
    return server.client.post(PROFILES, json=document, params=STRICT)


def _delete(server: ApiServer, kind: str, name: str) -> None:
    path = f"{CORPORA}/{name}" if kind == "Corpus" else f"{PROFILES}/{name}"
    server.client.delete(path)


def test_every_example_and_default_profile_is_accepted(server: ApiServer) -> None:
    for path in sorted((ROOT / "charts/medbatch/files/profiles").glob("*.yaml")):
        profile = yaml.safe_load(path.read_text())
        profile["metadata"]["name"] = "example-" + profile["metadata"]["name"]
        response = _create(server, "ModelProfile", profile)
        assert response.status_code == 201, (path.name, response.text)
        _delete(server, "ModelProfile", profile["metadata"]["name"])
    for path in sorted((ROOT / "manifests/examples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "Corpus":
                response = _create(server, "Corpus", document)
                assert response.status_code == 201, (path.name, response.text)
                _delete(server, "Corpus", document["metadata"]["name"])


@EVERY_ROW
def test_the_parity_table_holds_on_a_real_api_server(
    server: ApiServer, kind: str, change: Change, refused_by: str
) -> None:
    document = _corpus() if kind == "Corpus" else _profile()
    change(document)
    name = document["metadata"]["name"]
    if not isinstance(name, str) or not name.islower() or len(name) > 63:
        name = None  # the row is about the name: there is nothing to delete afterwards
    response = _create(server, kind, document)
    try:
        if refused_by == CRD:
            assert response.status_code == 422, response.text
        elif refused_by == PRUNED:
            # kubectl's default (strict) field validation: a 400 naming the field; without it, pruned.
            assert response.status_code == 400, response.text
            assert "unknown field" in response.text
            lenient = copy.deepcopy(document)
            lenient["metadata"]["namespace"] = NAMESPACE
            kept = server.client.post(CORPORA, json=lenient, params={"fieldValidation": "Ignore"})
            # Pruned, the rest is stored (or refused on its own, as a ray block left without clusterName).
            assert kept.status_code in (201, 422), kept.text
            if kept.status_code == 201:
                assert kept.json()["spec"] == _corpus_as_stored(server, name)
            response = kept
        else:
            assert refused_by.startswith(OPERATOR + ": ")
            assert response.status_code == 201, "the API server refuses this now: move the row to CRD"
    finally:
        if name and response.status_code == 201:
            _delete(server, kind, name)


def _corpus_as_stored(server: ApiServer, name: str | None) -> dict[str, Any]:
    stored: dict[str, Any] = server.client.get(f"{CORPORA}/{name}").json()["spec"]
    assert "fromat" not in stored.get("source", {})
    assert set(stored.get("ray") or {}) <= {"clusterName"}
    return stored


def test_a_bad_name_is_refused_with_the_rule_s_message(server: ApiServer) -> None:
    corpus = _corpus()
    corpus["metadata"]["name"] = "c" * 64
    response = _create(server, "Corpus", corpus)
    assert response.status_code == 422
    assert "metadata.name must be a DNS-1123 label" in response.text


def test_tensor_parallelism_of_zero_names_the_field_not_a_division(server: ApiServer) -> None:
    profile = _profile()
    profile["metadata"]["name"] = "tp-zero"
    profile["spec"]["tensorParallelSize"] = 0
    response = _create(server, "ModelProfile", profile)
    assert response.status_code == 422
    assert "spec.tensorParallelSize" in response.text
    assert "modulus by zero" not in response.text


# The status the operator writes when it has just started a job (without the job's reference).
STARTING = {
    "phase": "Pending",
    "reason": "Starting",
    "message": "waiting for the Ray cluster",
    "observedGeneration": 1,
    "conditions": [],
}


@pytest.fixture
def started(server: ApiServer) -> Iterator[str]:
    """A Corpus whose status says its RayJob was created, as the operator writes it."""
    corpus = _corpus()
    corpus["metadata"]["name"] = "frozen"
    assert _create(server, "Corpus", corpus).status_code == 201
    status = {
        **STARTING,
        "rayJob": "medbatch-frozen",
        "records": {"total": 9, "done": 3, "failed": 0},
    }
    response = server.client.patch(
        f"{CORPORA}/frozen/status",
        json={"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    yield "frozen"
    _delete(server, "Corpus", "frozen")


def _patch_status(server: ApiServer, name: str, status: Any) -> httpx.Response:
    return server.client.patch(
        f"{CORPORA}/{name}/status",
        json={"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )


def test_the_status_cannot_lift_the_spec_freeze(server: ApiServer, started: str) -> None:
    """Whoever may write corpora/status must not be able to clear rayJob and then change the spec."""
    for attempt in ({"rayJob": None}, {"rayJob": "medbatch-other"}, None):
        response = _patch_status(server, started, attempt)
        assert response.status_code == 422, (attempt, response.text)
        assert "status.rayJob cannot change or be removed once set" in response.text
    spec_change = server.client.patch(
        f"{CORPORA}/{started}",
        json={"spec": {"replicas": 7}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert spec_change.status_code == 422
    assert "a Corpus that has started cannot change" in spec_change.text
    assert spec_change.json()["details"]["causes"][0]["field"] == "spec"
    suspend = server.client.patch(
        f"{CORPORA}/{started}",
        json={"spec": {"suspend": True}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert suspend.status_code == 200, "suspend stays changeable"


def test_a_submission_id_may_change_but_not_go(server: ApiServer) -> None:
    corpus = _corpus()
    corpus["metadata"]["name"] = "submitted"
    assert _create(server, "Corpus", corpus).status_code == 201
    assert _patch_status(server, "submitted", {**STARTING, "submissionId": "medbatch-a"}).status_code == 200
    assert _patch_status(server, "submitted", {"submissionId": "medbatch-a-r1"}).status_code == 200
    gone = _patch_status(server, "submitted", {"submissionId": None})
    assert gone.status_code == 422
    assert "status.submissionId cannot be removed once set" in gone.text
    _delete(server, "Corpus", "submitted")


def test_conditions_are_a_map_keyed_by_type(server: ApiServer, started: str) -> None:
    condition = {
        "type": "Started",
        "status": "True",
        "reason": "Starting",
        "message": "m",
        "lastTransitionTime": "2026-12-03T00:00:00Z",
        "observedGeneration": 1,
    }
    twice = _patch_status(server, started, {"conditions": [condition, {**condition, "status": "False"}]})
    assert twice.status_code == 422
    assert "Duplicate value" in twice.text


def test_a_status_write_leaves_no_stale_key(server: ApiServer, started: str) -> None:
    """The operator's status patches replace the maps it owns: a count that is gone goes (a plain merge
    patch would keep it beside the new ones)."""
    current = server.client.get(f"{CORPORA}/{started}").json()["status"]
    assert set(current["records"]) == {"total", "done", "failed"}
    response = _patch_status(
        server, started, replacing(current, {"records": {"total": 12}, "rayJob": "medbatch-frozen"})
    )
    assert response.status_code == 200, response.text
    assert server.client.get(f"{CORPORA}/{started}").json()["status"]["records"] == {"total": 12}
