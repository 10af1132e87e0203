"""The Helm chart with the real helm binary, and the plain manifests generated from it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devtools.bundle import chart_files
from devtools.install_manifests import (
    NAMESPACE,
    helm_template,
    install_files,
    without_helm_labels,
)
from devtools.k8s_tools import tool
from medbatch.operator.config import OperatorConfig
from medbatch.operator.kube import CLUSTER_WIDE_MODE, NAMESPACED_MODE, PERMISSIONS, RAY_CLUSTERS
from tests.operator.crd_checks import schema_errors, structural_problems

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "medbatch"
# Kubernetes versions the chart supports (Chart.yaml kubeVersion >= 1.29); oldest and newest checked.
KUBERNETES_VERSIONS = ("1.29.0", "1.35.0")
BUILTIN_GROUPS = ("v1", "apps/v1", "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1")


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def operator_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = by_kind(objects, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_lint_strict() -> None:
    result = subprocess.run(
        [str(tool("helm")), "lint", "--strict", str(CHART)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_derived_chart_files_are_current() -> None:
    for path, text in chart_files().items():
        assert path.read_text() == text, f"{path} is stale: run python -m devtools.bundle"


def test_defaults_install_a_secure_operator_of_its_own_namespace() -> None:
    objects = helm_template()
    container = operator_container(objects)
    (deployment,) = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["limits"]["memory"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--all-namespaces" not in container["args"]
    assert [a for a in container["args"] if a.startswith("--namespace")] == [f"--namespace={NAMESPACE}"]
    assert "--module=medbatch.operator.handlers" in container["args"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MEDBATCH_JOB_IMAGE"] == "ghcr.io/medbatch/medbatch-job:0.1.0"
    assert [r["metadata"]["namespace"] for r in by_kind(objects, "Role")] == [NAMESPACE]
    assert by_kind(objects, "ClusterKopfPeering") == []
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in by_kind(objects, "KopfPeering")] == [
        (NAMESPACE, "medbatch")
    ]
    profiles = sorted(o["metadata"]["name"] for o in by_kind(objects, "ModelProfile"))
    assert profiles == ["meditron3-70b", "openbiollm-70b", "openbiollm-70b-fp8", "openbiollm-8b"]
    assert by_kind(objects, "ServiceMonitor") == []
    (service,) = by_kind(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 9090


def test_namespace_limited_watch() -> None:
    objects = helm_template("--set", "watchNamespaces={team-a,team-b}")
    args = operator_container(objects)["args"]
    assert "--all-namespaces" not in args
    assert {"--namespace=team-a", "--namespace=team-b"} <= set(args)
    assert sorted(r["metadata"]["namespace"] for r in by_kind(objects, "Role")) == ["team-a", "team-b"]
    assert sorted(p["metadata"]["namespace"] for p in by_kind(objects, "KopfPeering")) == [
        "team-a",
        "team-b",
    ]
    assert by_kind(objects, "ClusterKopfPeering") == []


def test_cluster_wide_watch_is_an_explicit_choice() -> None:
    objects = helm_template("--set", "clusterWide=true", "--set", "watchNamespaces={team-a}")
    args = operator_container(objects)["args"]
    assert "--all-namespaces" in args
    assert not [a for a in args if a.startswith("--namespace")]
    assert by_kind(objects, "Role") == []
    assert [o["metadata"]["name"] for o in by_kind(objects, "ClusterKopfPeering")] == ["medbatch"]


def test_image_resource_and_profile_overrides() -> None:
    objects = helm_template(
        "--set", "image.repository=registry.local/mb-operator",
        "--set", "image.tag=9.9.9",
        "--set", "jobImage.repository=registry.local/mb-job",
        "--set", "resources.limits.memory=1Gi",
        "--set", "modelProfiles.openbiollm-70b.spec.image=registry.local/mb-job:gpu",
        "--set", "metrics.serviceMonitor.enabled=true",
    )  # fmt: skip
    container = operator_container(objects)
    assert container["image"] == "registry.local/mb-operator:9.9.9"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MEDBATCH_JOB_IMAGE"] == "registry.local/mb-job:0.1.0"
    profile = next(p for p in by_kind(objects, "ModelProfile") if p["metadata"]["name"] == "openbiollm-70b")
    assert profile["spec"]["image"] == "registry.local/mb-job:gpu"
    assert profile["spec"]["tensorParallelSize"] == 4, "an override keeps the rest of the default spec"
    assert len(by_kind(objects, "ServiceMonitor")) == 1


def test_metrics_port_zero_turns_metrics_off() -> None:
    objects = helm_template("--set", "metrics.port=0", "--set", "metrics.serviceMonitor.enabled=true")
    container = operator_container(objects)
    assert [p["name"] for p in container["ports"]] == ["health"]
    assert {e["name"]: e["value"] for e in container["env"]}["MEDBATCH_METRICS_PORT"] == "0"
    assert by_kind(objects, "Service") == []
    assert by_kind(objects, "ServiceMonitor") == []


def _release(name: str, *args: str) -> list[dict[str, Any]]:
    command = [str(tool("helm")), "template", name, str(CHART), "-n", f"{name}-system", *args]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def test_two_releases_coexist_in_one_cluster() -> None:
    """A second release (another team's operator, or a canary) shares no object with the first, and its
    replicas peer among themselves, not with the first release's."""
    first = _release("medbatch")
    second = _release("canary", "--set", "installModelProfiles=false")

    def names(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}

    assert names(first) & names(second) == set()
    assert by_kind(second, "ModelProfile") == []
    for objects in (first, second):
        (peering,) = by_kind(objects, "KopfPeering")
        env = {e["name"]: e["value"] for e in operator_container(objects)["env"]}
        assert env["MEDBATCH_PEERING_NAME"] == peering["metadata"]["name"]
    assert by_kind(first, "KopfPeering") != by_kind(second, "KopfPeering")


def test_job_defaults_reach_the_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = helm_template(
        "--set", "priorityClassName=platform-critical",
        "--set", "jobDefaults.priorityClassName=batch-low",
        "--set", "jobDefaults.imagePullSecrets={registry-creds}",
        "--set", "jobDefaults.head.memory=32Gi",
        "--set", "rayClusters.selector=team=ml",
        "--set", "rayClusters.allowed={team-a/shared,team-b/*}",
        "--set", "tenancy.serviceAccounts={ray-reader,ray-writer}",
        "--set", "tenancy.credentialsSecretLabel=example.org/for-batch",
    )  # fmt: skip
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "platform-critical"
    for item in operator_container(objects)["env"]:
        monkeypatch.setenv(item["name"], item["value"])
    config = OperatorConfig()
    settings = config.render_settings()
    assert (settings.priority_class_name, settings.image_pull_secrets) == ("batch-low", ("registry-creds",))
    assert (settings.head_cpu, settings.head_memory) == ("4", "32Gi")
    assert settings.dashboard_peers[0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "kuberay-operator"
    }
    assert settings.dashboard_peers[0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kuberay-system"
    }
    assert settings.egress == ({"ports": [{"protocol": "TCP", "port": 443}]},)
    assert config.network_policy is True
    assert config.allows_ray_cluster("team-a", "shared", {"team": "ml"})
    assert config.allows_ray_cluster("team-b", "any", {"team": "ml"})
    assert not config.allows_ray_cluster("team-a", "other", {"team": "ml"}), (
        "not listed: the label is not enough"
    )
    assert not config.allows_ray_cluster("team-a", "shared", {"medbatch.io/allow-corpora": "true"})
    assert config.allowed_service_accounts == ["ray-reader", "ray-writer"]
    assert config.credentials_secret_label == "example.org/for-batch"


def test_profiles_can_be_switched_off() -> None:
    objects = helm_template(
        "--set", "modelProfiles.openbiollm-70b.enabled=false",
        "--set", "modelProfiles.meditron3-70b.enabled=false",
    )  # fmt: skip
    names = sorted(o["metadata"]["name"] for o in by_kind(objects, "ModelProfile"))
    assert names == ["openbiollm-70b-fp8", "openbiollm-8b"]


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("watchNamespaces=team-a", "watchNamespaces"),
        ("replicaCount=-1", "replicaCount"),
        ("operator.logFormat=xml", "logFormat"),
        ("unknownKey=1", "unknownKey"),
        ("metrics.port=-1", "port"),
        ("rayClusters.selector=a b", "selector"),
        ("rayClusters.caConfigMap=../other", "caConfigMap"),
        ("rayClusters.headUrl=ftp://{service}:{port}", "headUrl"),
    ],
)
def test_invalid_values_are_refused(setting: str, complaint: str) -> None:
    result = subprocess.run(
        [str(tool("helm")), "template", "mb", str(CHART), "--set", setting],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert complaint in result.stderr


@pytest.mark.parametrize(
    "values",
    [
        (),
        ("--set", "watchNamespaces={team-a}"),
        ("--set", "clusterWide=true"),
        ("--set", "namespaceOptIn=true"),
    ],
)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_objects_validate(values: tuple[str, ...], version: str) -> None:
    for obj in helm_template(*values):
        if obj["apiVersion"] in BUILTIN_GROUPS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_crds_and_profiles_pass_the_crd_checks() -> None:
    objects = helm_template()
    crds = {c["spec"]["names"]["kind"]: c for c in by_kind(objects, "CustomResourceDefinition")}
    assert set(crds) == {"Corpus", "ModelProfile", "KopfPeering", "ClusterKopfPeering"}
    for crd in crds.values():
        assert list(structural_problems(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])) == []
    for profile in by_kind(objects, "ModelProfile"):
        assert schema_errors(crds["ModelProfile"], profile) == []


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def needed(
    *, cluster: bool | None = None, tenant: bool | None = None, installs: frozenset[str] = frozenset()
) -> set[tuple[str, str, str]]:
    """What PERMISSIONS asks for (of one scope, on tenants' objects or not), in an install with the
    conditions ``installs`` names."""
    return {
        (a.group, a.resource, verb)
        for a in PERMISSIONS
        if (cluster is None or a.cluster == cluster)
        and (tenant is None or a.tenant == tenant)
        and (not a.only or a.only in installs)
        for verb in a.verbs
    }


def operator_cluster_role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = [r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"] == "medbatch"]
    return role


@pytest.mark.parametrize("ray_clusters", [False, True])
def test_rbac_grants_what_the_operator_uses_cluster_wide(ray_clusters: bool) -> None:
    extra = ("--set", "rayClusters.allowed={team-a/shared}") if ray_clusters else ()
    objects = helm_template("--set", "clusterWide=true", *extra)
    role = operator_cluster_role(objects)
    installs = frozenset({CLUSTER_WIDE_MODE} | ({RAY_CLUSTERS} if ray_clusters else set()))
    assert granted(role["rules"]) == needed(installs=installs), "every verb the operator uses, and no more"
    assert ("kopf.dev", "kopfpeerings", "patch") not in granted(role["rules"]), (
        "cluster-wide peers cluster-wide"
    )
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    (account,) = by_kind(objects, "ServiceAccount")
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


@pytest.mark.parametrize(
    ("values", "watched", "ray_clusters"),
    [
        ((), [NAMESPACE], False),
        (("--set", "watchNamespaces={team-a,team-b}"), ["team-a", "team-b"], False),
        (("--set", "rayClusters.allowed={team-a/shared}"), [NAMESPACE], True),
    ],
)
def test_rbac_of_the_default_install_grants_nothing_outside_the_watched_namespaces(
    values: tuple[str, ...], watched: list[str], ray_clusters: bool
) -> None:
    objects = helm_template(*values)
    installs = frozenset({NAMESPACED_MODE} | ({RAY_CLUSTERS} if ray_clusters else set()))
    cluster_role = operator_cluster_role(objects)
    assert granted(cluster_role["rules"]) == needed(cluster=True, installs=installs), (
        "the cluster-scoped only"
    )
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == watched
    for role in roles:
        assert granted(role["rules"]) == needed(cluster=False, installs=installs), "what it uses, no more"
        # Without a RayCluster to run on, nothing of RayClusters or Services is readable.
        assert (("ray.io", "rayclusters", "get") in granted(role["rules"])) is ray_clusters
        assert (("", "services", "get") in granted(role["rules"])) is ray_clusters
    bindings = by_kind(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == watched
    assert {b["subjects"][0]["namespace"] for b in bindings} == {NAMESPACE}
    (cluster_binding,) = by_kind(objects, "ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]


@pytest.mark.parametrize("ray_clusters", [False, True])
def test_namespace_opt_in_grants_tenant_objects_only_where_an_admin_binds_them(ray_clusters: bool) -> None:
    """namespaceOptIn: Corpora and Events everywhere (so a Corpus anywhere hears why it waits), but a
    tenant's Secrets, RayJobs, ConfigMaps and NetworkPolicies only through a ClusterRole bound nowhere
    by the chart; namespace admins may bind that one role and nothing else."""
    extra = ("--set", "rayClusters.allowed={team-a/shared}") if ray_clusters else ()
    objects = helm_template("--set", "namespaceOptIn=true", *extra)
    installs = frozenset({CLUSTER_WIDE_MODE} | ({RAY_CLUSTERS} if ray_clusters else set()))
    roles = {r["metadata"]["name"]: r for r in by_kind(objects, "ClusterRole")}
    assert granted(roles["medbatch"]["rules"]) == needed(tenant=False, installs=installs)
    assert granted(roles["medbatch-tenant"]["rules"]) == needed(tenant=True, installs=installs)
    assert needed(tenant=True) >= {("", "secrets", "get"), ("ray.io", "rayjobs", "create")}
    binder = roles["medbatch-tenant-binder"]
    assert binder["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert binder["rules"] == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": ["medbatch-tenant"],
        }
    ]
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "medbatch", "the tenant role is bound by namespace admins only"
    assert by_kind(objects, "Role") == by_kind(objects, "RoleBinding") == []
    assert by_kind(objects, "ValidatingAdmissionPolicy") == [], "no cluster-wide writes to narrow"
    assert [p["kind"] for p in objects if p["kind"].endswith("KopfPeering")] == ["ClusterKopfPeering"]
    (deployment,) = by_kind(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--all-namespaces" in container["args"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MEDBATCH_TENANT_CLUSTER_ROLE"] == "medbatch-tenant"
    (account,) = by_kind(objects, "ServiceAccount")
    assert env["MEDBATCH_SERVICE_ACCOUNT"] == f"{NAMESPACE}:{account['metadata']['name']}"


def test_cluster_wide_and_namespace_opt_in_together_are_refused() -> None:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        helm_template("--set", "namespaceOptIn=true", "--set", "clusterWide=true")
    assert "set clusterWide or namespaceOptIn, not both" in refused.value.stderr


def test_user_roles_aggregate_into_admin_edit_and_view() -> None:
    """Namespace users get Corpora through Kubernetes' own roles; none may write a Corpus's status."""
    roles = {r["metadata"]["name"]: r for r in by_kind(helm_template(), "ClusterRole")}
    edit, view = roles["medbatch-edit"], roles["medbatch-view"]
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in edit["metadata"]["labels"].items() if v == "true"} >= {
        aggregate + "admin",
        aggregate + "edit",
    }
    assert view["metadata"]["labels"][aggregate + "view"] == "true"
    assert ("medbatch.io", "corpora", "create") in granted(edit["rules"])
    assert granted(view["rules"]) == {
        ("medbatch.io", r, v)
        for r in ("corpora", "corpora/status", "modelprofiles")
        for v in ("get", "list", "watch")
    }
    for role in (edit, view):
        assert {(g, r, v) for g, r, v in granted(role["rules"]) if r == "corpora/status"} <= {
            ("medbatch.io", "corpora/status", v) for v in ("get", "list", "watch")
        }
        assert {g for g, _, _ in granted(role["rules"])} == {"medbatch.io"}
    assert not [
        r
        for r in by_kind(helm_template("--set", "userRoles.aggregate=false"), "ClusterRole")
        if "edit" in r["metadata"]["name"]
    ]


def test_plain_manifests_are_current_and_install_what_the_chart_installs() -> None:
    for path, text in install_files().items():
        assert path.read_text() == text, f"{path} is stale: run python -m devtools.install_manifests"
    rendered = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(ROOT / "manifests" / "install")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    plain = [d for d in yaml.safe_load_all(rendered) if d]

    def key(obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"

    chart = {key(o): without_helm_labels(o) for o in helm_template()}
    kustomized = {key(o): o for o in plain if o["kind"] != "Namespace"}
    assert kustomized == chart
    assert [o["metadata"]["name"] for o in plain if o["kind"] == "Namespace"] == [NAMESPACE]


def test_notes_say_how_to_start() -> None:
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    for step in ("kubectl get modelprofiles", "apply -f corpus.yaml", "get corpora -w", "port-forward"):
        assert step in notes
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.29.0-0"


def _operator_policy(*args: str) -> dict[str, Any]:
    objects = helm_template(*args, crds=False)
    (deployment,) = by_kind(objects, "Deployment")
    policies = [
        p
        for p in by_kind(objects, "NetworkPolicy")
        if p["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    ]
    assert len(policies) == 1
    return dict(policies[0])


def test_the_operator_pod_has_its_own_network_policy() -> None:
    policy = _operator_policy()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9090}]
    dns, *rest = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {p["port"] for rule in rest for p in rule["ports"]} == {443, 6443, 8265}
    assert all("from" not in rule for rule in policy["spec"]["egress"])


@pytest.mark.parametrize("args", [("--set", "networkPolicy.metricsFrom=null"), ("--set", "metrics.port=0")])
def test_no_metrics_peers_or_no_metrics_admit_nobody(args: tuple[str, str]) -> None:
    assert _operator_policy(*args)["spec"]["ingress"] == []


def test_the_operator_policy_can_be_left_to_the_platform() -> None:
    objects = helm_template("--set", "networkPolicy.enabled=false", crds=False)
    assert by_kind(objects, "NetworkPolicy") == []


def test_allowed_endpoints_reach_the_operator_and_bad_ones_are_refused() -> None:
    objects = helm_template("--set", "tenancy.allowedEndpoints={http://minio.storage.svc:9000}", crds=False)
    env = {e["name"]: e.get("value") for e in operator_container(objects)["env"]}
    config = OperatorConfig(allowed_endpoints=yaml.safe_load(env["MEDBATCH_ALLOWED_ENDPOINTS"]))
    assert config.read_policy().allows_endpoint("http://minio.storage.svc:9000/")
    assert not config.read_policy().allows_endpoint("http://attacker.example:9000")
    result = subprocess.run(
        [
            str(tool("helm")),
            "template",
            "t",
            str(CHART),
            "--set",
            "tenancy.allowedEndpoints={minio:9000/path}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "allowedEndpoints" in result.stderr


def test_platform_bounds_reach_the_operator_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = tmp_path / "bounds.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "tenancy": {
                    "allowedLocations": ["s3://results/{namespace}/*"],
                    "maxReplicas": 8,
                    "maxGpus": 16,
                    "childLabels": ["kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class"],
                }
            }
        )
    )
    for item in operator_container(helm_template("-f", str(values), crds=False))["env"]:
        monkeypatch.setenv(item["name"], item["value"])
    config = OperatorConfig()
    assert config.allowed_locations == ["s3://results/{namespace}/*"]
    assert (config.max_replicas, config.max_gpus) == (8, 16)
    assert config.render_settings().child_labels == (
        "kueue.x-k8s.io/queue-name",
        "kueue.x-k8s.io/priority-class",
    )


def test_no_caps_by_default_and_only_the_queue_label_passes() -> None:
    env = {e["name"] for e in operator_container(helm_template(crds=False))["env"]}
    assert not {"MEDBATCH_MAX_REPLICAS", "MEDBATCH_MAX_GPUS"} & env
    assert OperatorConfig().child_labels == ["kueue.x-k8s.io/queue-name"]


def test_https_to_ray_heads_reaches_the_operator_with_the_platform_s_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = helm_template(
        "--set", "rayClusters.requireHttps=true", "--set", "rayClusters.caConfigMap=ray-heads-ca", crds=False
    )  # fmt: skip
    container = operator_container(objects)
    for item in container["env"]:
        monkeypatch.setenv(item["name"], item["value"])
    config = OperatorConfig()
    assert config.require_ray_head_https is True
    assert config.ray_head_url.startswith("{scheme}://")
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "ray-ca"]
    assert config.ray_head_ca_file == f"{mount['mountPath']}/ca.crt"
    (deployment,) = by_kind(objects, "Deployment")
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "ray-ca"]
    assert volume["configMap"]["name"] == "ray-heads-ca"
    defaults = operator_container(helm_template(crds=False))
    assert "MEDBATCH_RAY_HEAD_CA_FILE" not in {e["name"] for e in defaults["env"]}
    assert all(m["name"] != "ray-ca" for m in defaults["volumeMounts"])
