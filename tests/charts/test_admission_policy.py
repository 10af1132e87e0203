"""The clusterWide install's ValidatingAdmissionPolicies, evaluated as the API server evaluates them.

No API server here runs admission, so each policy's match conditions, variables and validations are
compiled and evaluated with Google's CEL implementation (cel-expr-python) on the requests the operator
would send: the objects come from the operator's own renderer and owner references, so a policy that
refused what the operator makes fails here, and so does one that admits what it must not.
"""

from __future__ import annotations

import copy
from typing import Any

import kopf
import kubernetes_validate
import pytest
import yaml
from cel_expr_python import cel
from cel_expr_python.ext import ext_strings
from google.protobuf import descriptor_pool, struct_pb2

from devtools.install_manifests import NAMESPACE as RELEASE_NAMESPACE
from devtools.install_manifests import helm_template
from medbatch.operator.config import OperatorConfig
from medbatch.operator.render import render_configmap, render_network_policy, render_rayjob
from medbatch.spec import Corpus, ModelProfile, parse_resource
from tests.operator.cluster import ROOT

TENANT = "team-a"
EXAMPLE = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
PROFILE = parse_resource(
    yaml.safe_load((ROOT / "manifests/profiles/openbiollm-70b.yaml").read_text()), ModelProfile, "profile"
)
_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
_ENV = cel.NewEnv(
    _POOL,
    variables=dict.fromkeys(("object", "oldObject", "request", "variables"), cel.Type.DYN),
    extensions=[ext_strings.ExtStrings()],
)


def _policies(*args: str) -> list[dict[str, Any]]:
    objects = helm_template("--set", "clusterWide=true", *args, crds=False)
    return [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]


POLICIES = _policies("--set", "tenancy.serviceAccounts={team-a/runner}")
(_DEPLOYMENT,) = [
    o for o in helm_template("--set", "clusterWide=true", crds=False) if o["kind"] == "Deployment"
]
OPERATOR = f"system:serviceaccount:{RELEASE_NAMESPACE}:{_DEPLOYMENT['spec']['template']['spec']['serviceAccountName']}"


def _eval(expression: str, data: dict[str, Any]) -> Any:
    # Plain Python values, so a variable's value can be bound again for the expressions that read it.
    return _ENV.compile(expression).eval(data=data).plain_value()


def _matches(policy: dict[str, Any], request: dict[str, Any]) -> bool:
    resource = request["resource"]
    return any(
        resource["group"] in rule["apiGroups"]
        and resource["resource"] in rule["resources"]
        and request["operation"] in rule["operations"]
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
    )


def checks(
    obj: dict[str, Any], *, old: dict[str, Any] | None = None, user: str = OPERATOR
) -> tuple[int, list[str]]:
    """How many policies apply to the operator (or ``user``) writing ``obj`` into its namespace, and what
    they say against it."""
    group = obj["apiVersion"].rpartition("/")[0]
    plural = {"ConfigMap": "configmaps", "NetworkPolicy": "networkpolicies", "RayJob": "rayjobs"}[obj["kind"]]
    request = {
        "namespace": obj["metadata"]["namespace"],
        "operation": "UPDATE" if old else "CREATE",
        "userInfo": {"username": user},
        "resource": {"group": group, "resource": plural},
    }
    data: dict[str, Any] = {"object": obj, "oldObject": old, "request": request}
    messages, applied = [], 0
    for policy in POLICIES:
        spec = policy["spec"]
        if not _matches(policy, request):
            continue
        if not all(_eval(c["expression"], data) for c in spec.get("matchConditions", [])):
            continue
        applied += 1
        variables: dict[str, Any] = {}
        for variable in spec.get("variables", []):
            variables[variable["name"]] = _eval(variable["expression"], {**data, "variables": variables})
        for validation in spec["validations"]:
            if _eval(validation["expression"], {**data, "variables": variables}) is not True:
                messages.append(validation["message"])
    return applied, messages


def refusals(obj: dict[str, Any], *, old: dict[str, Any] | None = None, user: str = OPERATOR) -> list[str]:
    """What the policies say against the operator (or ``user``) writing ``obj``."""
    return checks(obj, old=old, user=user)[1]


def _children(namespace: str = TENANT, **spec: Any) -> list[dict[str, Any]]:
    """The ConfigMap, RayJob and NetworkPolicy the operator makes for a Corpus, owned by it."""
    document = copy.deepcopy(EXAMPLE)
    document["metadata"] |= {"namespace": namespace, "uid": "uid-1"}
    document["spec"].update(spec)
    corpus = parse_resource(document, Corpus, "corpus")
    settings = OperatorConfig().render_settings()
    children = [
        render_configmap(corpus, PROFILE),
        render_rayjob(corpus, PROFILE, settings),
        render_network_policy(corpus, settings),
    ]
    kopf.append_owner_reference(children, owner=kopf.Body(document))
    for child in children:
        child["metadata"]["namespace"] = namespace
    return children


def test_what_the_operator_makes_is_admitted() -> None:
    for child in _children():
        policies = 2 if child["kind"] == "RayJob" else 1
        assert checks(child) == (policies, []), child["kind"]
        assert checks(child, old=copy.deepcopy(child)) == (policies, []), child["kind"]
    for child in _children(serviceAccountName="runner"):
        assert refusals(child) == [], child["kind"]


def test_nothing_goes_into_system_namespaces() -> None:
    for child in _children(namespace="kube-system"):
        assert "the medbatch operator does not write into system namespaces" in refusals(child)


def test_objects_that_are_not_a_corpus_s_are_refused() -> None:
    configmap, rayjob, _ = _children()
    bare = copy.deepcopy(configmap)
    del bare["metadata"]["labels"]
    assert any("labelled as a Corpus" in m for m in refusals(bare))
    unowned = copy.deepcopy(rayjob)
    del unowned["metadata"]["ownerReferences"]
    assert any("owned by the Corpus" in m for m in refusals(unowned))
    other_owner = copy.deepcopy(rayjob)
    other_owner["metadata"]["labels"]["medbatch.io/corpus"] = "someone-else"
    assert any("owned by the Corpus" in m for m in refusals(other_owner))


def test_someone_else_s_object_is_not_taken_over() -> None:
    configmap = _children()[0]
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": TENANT}}
    assert "the medbatch operator does not take over objects it did not make" in refusals(
        configmap, old=theirs
    )


def test_rayjob_pods_run_with_no_token_or_an_allowed_account() -> None:
    _, rayjob, _ = _children(serviceAccountName="runner")
    elsewhere = copy.deepcopy(rayjob)
    elsewhere["metadata"]["namespace"] = "team-b"
    assert any("ServiceAccount" in m for m in refusals(elsewhere))
    _, plain, _ = _children()
    admin = copy.deepcopy(plain)
    worker = admin["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    worker["serviceAccountName"] = "cluster-admin-sa"
    assert any("ServiceAccount" in m for m in refusals(admin))
    default_token = copy.deepcopy(plain)
    del default_token["spec"]["submitterPodTemplate"]["spec"]["automountServiceAccountToken"]
    assert any("ServiceAccount" in m for m in refusals(default_token))


def test_only_the_operator_s_own_requests_are_checked() -> None:
    configmap = _children(namespace="kube-system")[0]
    assert checks(configmap, user="system:serviceaccount:kube-system:someone") == (0, [])


@pytest.mark.parametrize(
    ("args", "rendered"),
    [
        (("--set", "clusterWide=true"), True),
        (("--set", "clusterWide=true", "--kube-version", "1.29.0"), False),
        (("--set", "clusterWide=true", "--set", "admissionPolicy.enabled=false"), False),
        ((), False),
    ],
)
def test_the_policies_come_with_cluster_wide_installs_on_kubernetes_1_30_and_later(
    args: tuple[str, ...], rendered: bool
) -> None:
    objects = helm_template(*args, crds=False)
    kinds = [o for o in objects if o["apiVersion"] == "admissionregistration.k8s.io/v1"]
    assert bool(kinds) is rendered
    for obj in kinds:
        kubernetes_validate.validate(obj, "1.35.0", strict=True)
    names = {o["metadata"]["name"] for o in kinds if o["kind"] == "ValidatingAdmissionPolicy"}
    bound = {o["spec"]["policyName"] for o in kinds if o["kind"] == "ValidatingAdmissionPolicyBinding"}
    assert names == bound
