"""Admission parity: what `medbatch validate` rejects, the API server rejects too (schema and CEL).

Each row is one invalid resource and who refuses it. ``CRD`` rows must be refused by the CRD's schema or
CEL rules as well as by the spec models; ``pruned`` rows hold a field the CRD does not declare (the API
server refuses it under kubectl's strict field validation and prunes it otherwise; either way it never
reaches the operator). ``OPERATOR`` rows are refused only by the spec models the operator runs on every
Corpus, with the reason CEL cannot say it. A new CEL rule that covers an OPERATOR row fails the test, so the
table stays true. docs/install.md repeats the operator-side rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.crds import corpus_crd, model_profile_crd
from medbatch.spec import Corpus, ModelProfile, SpecError, parse_resource
from tests.operator.crd_checks import cel_failures, pruned, schema_errors, schema_of

ROOT = Path(__file__).resolve().parents[2]
CRD, PRUNED = "CRD", "pruned"
OPERATOR = "operator"

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


def _drop(path: str) -> Change:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node[key]
        del node[last]

    return change


def _both(*changes: Change) -> Change:
    def change(document: dict[str, Any]) -> None:
        for one in changes:
            one(document)

    return change


CORPUS_CASES: list[tuple[str, Change, str]] = [
    ("no task", _set("spec.tasks", {}), CRD),
    ("ner without deidentify", _set("spec.tasks", {"ner": {}}), CRD),
    ("unsupported uri scheme", _set("spec.source.uri", "http://notes.example/x/"), CRD),
    ("empty uri", _set("spec.source.uri", ""), CRD),
    ("blank uri", _set("spec.source.uri", "   "), CRD),
    ("over-long uri", _set("spec.source.uri", "s3://notes/" + "a" * 2100), CRD),
    ("output equals source", _set("spec.output.uri", "s3://notes/cardiology/2024"), CRD),
    (
        "output equals source, spelled file:// and plain",
        _both(_set("spec.source.uri", "/data/notes/"), _set("spec.output.uri", "file:///data/notes")),
        CRD,
    ),
    ("name with capitals", _set("metadata.name", "Cardiology-2024"), CRD),
    ("name longer than a label", _set("metadata.name", "c" * 64), CRD),
    ("model name with a space", _set("spec.model", "openbio llm"), CRD),
    ("no replicas", _set("spec.replicas", 0), CRD),
    ("too many replicas", _set("spec.replicas", 513), CRD),
    ("shard size 0", _set("spec.limits.shardSize", 0), CRD),
    (
        "overlap above half the chunk",
        _set("spec.limits", {"chunkChars": 1000, "chunkOverlapChars": 600}),
        CRD,
    ),
    ("no PHI type", _set("spec.tasks.deidentify.types", []), CRD),
    ("unknown PHI type", _set("spec.tasks.deidentify.types", ["NAMES"]), CRD),
    ("date shift of 0 days", _set("spec.tasks.deidentify.dateShiftMaxDays", 0), CRD),
    ("summary of 5 words", _set("spec.tasks.summarize.maxWords", 5), CRD),
    ("unknown format", _set("spec.source.format", "xml"), CRD),
    ("empty text field", _set("spec.source.textField", ""), CRD),
    ("ray cluster name with capitals", _set("spec.ray", {"clusterName": "Ray_Cluster"}), CRD),
    ("service account name with a slash", _set("spec.serviceAccountName", "kube-system/admin"), CRD),
    # Every reference to another object is a Kubernetes name, so none can climb out of its URL segment.
    (
        "secret name that climbs into another namespace",
        _both(
            _set("spec.credentials", {"secretRef": {"name": "../../other-team/secrets/s3-creds"}}),
            _set("spec.suspend", True),
        ),
        CRD,
    ),
    ("secret name with a slash", _set("spec.credentials", {"secretRef": {"name": "team/s3-creds"}}), CRD),
    ("secret name percent-encoded", _set("spec.credentials", {"secretRef": {"name": "%2e%2e%2fx"}}), CRD),
    ("secret name with capitals", _set("spec.credentials", {"secretRef": {"name": "S3-Creds"}}), CRD),
    ("model name that climbs", _set("spec.model", "../../api/v1/secrets"), CRD),
    ("model name with a dot (profiles are labels)", _set("spec.model", "openbiollm.70b"), CRD),
    ("ray cluster name that climbs", _set("spec.ray", {"clusterName": "../other-team/shared"}), CRD),
    ("service account name that climbs", _set("spec.serviceAccountName", "../../kube-system/admin"), CRD),
    ("misspelt field", _set("spec.source.fromat", "csv"), PRUNED),
    # The free URL and Secret reference that let a Corpus send any Secret anywhere no longer exist.
    (
        "ray.address and authTokenSecretRef (removed)",
        _set("spec.ray", {"address": "http://attacker.example", "authTokenSecretRef": {"name": "db"}}),
        PRUNED,
    ),
    (
        "output equals source up to a run of slashes",
        _set("spec.output.uri", "s3://notes/cardiology/2024///"),
        CRD,
    ),
    ("output inside the source", _set("spec.output.uri", "s3://notes/cardiology/2024/results/"), CRD),
    ("output a parent of the source", _set("spec.output.uri", "s3://notes/"), CRD),
    ("output a whole store (s3:// with no bucket)", _set("spec.output.uri", "s3://"), CRD),
    (
        "output equals source with a doubled slash inside",
        _set("spec.output.uri", "s3://notes//cardiology/2024"),
        CRD,
    ),
    (
        "output ./notes against source notes",
        _both(_set("spec.source.uri", "notes"), _set("spec.output.uri", "./notes/")),
        CRD,
    ),
    (
        "output file:// inside a plain source path",
        _both(_set("spec.source.uri", "/data/notes/"), _set("spec.output.uri", "file:///data/notes/out")),
        CRD,
    ),
    (
        "output equals source up to a run of five slashes",
        _set("spec.output.uri", "s3://notes/////cardiology/2024"),
        OPERATOR + ": CEL has no loop; replace() collapses runs of up to four slashes",
    ),
    (
        "output equal to the source through ..",
        _set("spec.output.uri", "s3://notes/cardiology/x/../2024"),
        OPERATOR + ": CEL cannot resolve .. in a path",
    ),
]

PROFILE_CASES: list[tuple[str, Change, str]] = [
    ("vllm without source", _drop("spec.source"), CRD),
    ("two weight sources", _set("spec.source", {"hub": "org/model", "pvc": "weights"}), CRD),
    ("no weight source", _set("spec.source", {}), CRD),
    ("gpus not a multiple of tensor parallelism", _set("spec.gpu", {"count": 3}), CRD),
    ("tensor parallelism of 0 (a minimum, not a division by zero)", _set("spec.tensorParallelSize", 0), CRD),
    ("openai without endpoint", _both(_set("spec.engine", "openai"), _drop("spec.source")), CRD),
    ("unknown engine", _set("spec.engine", "tgi"), CRD),
    ("too many node selector labels", _set("spec.nodeSelector", {f"k{i}": "v" for i in range(65)}), CRD),
    ("priority class with capitals", _set("spec.priorityClassName", "High"), CRD),
    ("weights PVC that climbs", _set("spec.source", {"pvc": "../other-team/weights"}), CRD),
    ("image pull secret that climbs", _set("spec.imagePullSecrets", ["../../kube-system/regcred"]), CRD),
    ("GPU resource with a space", _set("spec.gpu", {"resource": "nvidia.com/g pu"}), CRD),
]


def _corpus() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
    return document


def _profile() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "manifests/profiles/openbiollm-70b.yaml").read_text())
    return document


def _api_server_refuses(crd: dict[str, Any], document: dict[str, Any]) -> bool:
    return bool(schema_errors(crd, document) or cel_failures(crd, document))


# Every row as (kind, change, refused_by), for pytest.mark.parametrize here and on the real API server.
EVERY_ROW = pytest.mark.parametrize(
    ("kind", "change", "refused_by"),
    [("Corpus", change, by) for _, change, by in CORPUS_CASES]
    + [("ModelProfile", change, by) for _, change, by in PROFILE_CASES],
    ids=[name for name, _, _ in CORPUS_CASES] + [name for name, _, _ in PROFILE_CASES],
)


@EVERY_ROW
def test_validate_and_the_api_server_refuse_the_same_resources(
    kind: str, change: Change, refused_by: str
) -> None:
    base, model, crd = (
        (_corpus(), Corpus, corpus_crd())
        if kind == "Corpus"
        else (_profile(), ModelProfile, model_profile_crd())
    )
    # The unchanged resource passes both, so each row tests only its own change.
    assert not _api_server_refuses(crd, base)
    document = copy.deepcopy(base)
    change(document)
    with pytest.raises(SpecError):
        parse_resource(document, model, "test")
    if refused_by == CRD:
        assert _api_server_refuses(crd, document)
    elif refused_by == PRUNED:
        assert list(pruned(document, schema_of(crd)))
    else:
        assert refused_by.startswith(OPERATOR + ": ")
        assert not _api_server_refuses(crd, document), "CEL covers this now: move the row to CRD"


def test_a_size_below_its_minimum_is_refused_by_the_minimum_not_a_rule_that_divides_by_it() -> None:
    """tensorParallelSize 0 once reached `gpu.count % tensorParallelSize`: the API server answered
    'modulus by zero evaluating rule'. The rule now guards the division; the minimum speaks."""
    profile = _profile()
    profile["spec"]["tensorParallelSize"] = 0
    crd = model_profile_crd()
    assert cel_failures(crd, profile) == []
    assert any("tensorParallelSize" in e for e in schema_errors(crd, profile))


def test_rules_about_one_field_name_that_field() -> None:
    rules = model_profile_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"
    ]
    assert {r["message"]: r.get("fieldPath") for r in rules} == {
        "engine vllm needs source (hub, uri or pvc)": ".source",
        "gpu.count must be a multiple of tensorParallelSize": ".tensorParallelSize",
        "engine openai needs endpoint (the server's base URL, e.g. http://vllm:8000/v1)": ".endpoint",
    }
