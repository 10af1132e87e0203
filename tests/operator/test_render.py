"""The RayJob and ConfigMap the operator renders: valid for KubeRay v1.7.0, nothing a server would prune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from medbatch.jobs.config import job_config_for
from medbatch.notes.engines import engine_config_from_profile
from medbatch.operator.admission import declares_auth_options
from medbatch.operator.render import (
    CONTENT_HASH,
    RenderSettings,
    child_name,
    render_configmap,
    render_network_policy,
    render_rayjob,
    with_content_hash,
)
from medbatch.spec import Corpus, ModelProfile, load_corpus, load_model_profile
from tests.operator.crd_checks import crd_schema, refused_or_pruned
from tests.operator.pod_security import restricted_problems

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT.parent / "shared" / "data" / "kuberay-v1.7.0" / "ray.io_rayjobs.yaml"
CORPUS = ROOT / "manifests" / "examples" / "cardiology-s3.yaml"
PROFILES = sorted((ROOT / "manifests" / "profiles").glob("*.yaml"))


def rayjob_schema() -> dict[str, Any]:
    return crd_schema(KUBERAY)


FULL_PROFILE: dict[str, Any] = {
    "apiVersion": "medbatch.io/v1alpha1",
    "kind": "ModelProfile",
    "metadata": {"name": "p"},
    "spec": {
        "source": {"pvc": "weights"},
        "nodeSelector": {"gpu": "h100"},
        "image": "img:2",
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "batch-low",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        "podAnnotations": {"sidecar.istio.io/inject": "false"},
        "imagePullSecrets": ["registry-creds"],
    },
}


def _renderings() -> list[tuple[str, dict[str, Any]]]:
    corpus = load_corpus(CORPUS)
    with_account = Corpus.model_validate(
        {**corpus.to_wire(), "spec": {**corpus.spec.to_wire(), "serviceAccountName": "notes-reader"}}
    )
    cases = [(p.stem, render_rayjob(corpus, load_model_profile(p))) for p in PROFILES]
    cases.append(("all pod options", render_rayjob(with_account, ModelProfile.model_validate(FULL_PROFILE))))
    # Every other way a profile shapes the pods: each weight source, each engine, no GPU, several GPUs.
    variants: dict[str, dict[str, Any]] = {
        "weights from a hub": {"source": {"hub": "org/model"}},
        "weights from object storage": {"source": {"uri": "s3://weights/model/"}},
        "openai endpoint": {"engine": "openai", "endpoint": "http://vllm.models:8000/v1"},
        "baseline on CPU": {"engine": "baseline", "gpu": {"count": 0}},
        "tensor parallel over 4 GPUs": {
            "source": {"pvc": "weights"},
            "gpu": {"count": 4},
            "tensorParallelSize": 4,
        },
    }
    for name, spec in variants.items():
        profile = ModelProfile.model_validate({**FULL_PROFILE, "spec": {**FULL_PROFILE["spec"], **spec}})
        cases.append((name, render_rayjob(corpus, profile)))
    return cases


def pod_templates(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every pod template a RayJob makes KubeRay create: head, each worker group, the submitter."""
    cluster = job["spec"]["rayClusterSpec"]
    templates = {
        "head": cluster["headGroupSpec"]["template"],
        "submitter": job["spec"]["submitterPodTemplate"],
    }
    templates |= {f"worker {g['groupName']}": g["template"] for g in cluster["workerGroupSpecs"]}
    return templates


@pytest.mark.skipif(not KUBERAY.exists(), reason="KubeRay CRDs are in ../shared/data")
@pytest.mark.parametrize(("case", "job"), _renderings(), ids=[c for c, _ in _renderings()])
def test_rayjob_is_valid_for_kuberay_and_nothing_is_pruned(case: str, job: dict[str, Any]) -> None:
    assert refused_or_pruned(job, rayjob_schema()) == []


@pytest.mark.skipif(not KUBERAY.exists(), reason="KubeRay CRDs are in ../shared/data")
def test_kuberay_1_7_declares_auth_options_and_a_crd_without_it_is_caught() -> None:
    crd = yaml.safe_load(KUBERAY.read_text())
    assert declares_auth_options(crd)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    spec = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]
    del spec["properties"]["rayClusterSpec"]["properties"]["authOptions"]  # as an older KubeRay's v1
    assert not declares_auth_options(crd)


@pytest.mark.parametrize(("case", "job"), _renderings(), ids=[c for c, _ in _renderings()])
def test_every_pod_passes_the_restricted_pod_security_standard(case: str, job: dict[str, Any]) -> None:
    templates = pod_templates(job)
    assert set(templates) == {"head", "submitter", "worker engine"}
    for where, template in templates.items():
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        assert list(restricted_problems(template["spec"], annotations)) == [], where
        # Each template is also a valid PodTemplateSpec for the oldest and newest supported API server.
        for version in ("1.29", "1.35"):
            kubernetes_validate.validate(
                {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template},
                version,
                strict=True,
            )


FIT_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.mark.parametrize(
    ("pod", "annotations", "expected"),
    [
        (
            {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
            {},
            "appArmorProfile is Unconfined",
        ),
        (
            {},
            {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"},
            "annotation container.apparmor",
        ),
        ({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}, {}, "seLinuxOptions.type is spc_t"),
        ({"securityContext": {"seLinuxOptions": {"user": "system_u"}}}, {}, "seLinuxOptions.user is set"),
        ({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}, {}, "kernel.msgmax"),
        (
            {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
            {},
            "pod: seccompProfile is Unconfined",
        ),
        ({"securityContext": {"windowsOptions": {"hostProcess": True}}}, {}, "hostProcess"),
        ({"hostPID": True}, {}, "hostPID is set"),
        ({"hostIPC": True}, {}, "hostIPC is set"),
        ({"container": {"procMount": "Unmasked"}}, {}, "c: procMount is Unmasked"),
        ({"container": {"seLinuxOptions": {"role": "sysadm_r"}}}, {}, "c: seLinuxOptions.role is set"),
        ({"container": {"runAsUser": 0}}, {}, "c: runs as uid 0"),
        ({"ports": [{"containerPort": 80, "hostPort": 80}]}, {}, "hostPort"),
        ({"volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}, {}, "volume n is a nfs"),
    ],
)
def test_every_restricted_control_is_checked(
    pod: dict[str, Any], annotations: dict[str, str], expected: str
) -> None:
    """A pod fit for the restricted profile, broken in one control at a time: each is caught by name."""
    container_security = {**FIT_CONTAINER, **pod.pop("container", {})}
    container = {"name": "c", "securityContext": container_security, "ports": pod.pop("ports", [])}
    fit = {"containers": [{"name": "c", "securityContext": FIT_CONTAINER}]}
    assert list(restricted_problems(fit)) == []
    problems = list(restricted_problems({**pod, "containers": [container]}, annotations))
    assert [p for p in problems if expected in p], problems


def test_the_pod_security_check_catches_what_restricted_refuses() -> None:
    pod = {
        "hostNetwork": True,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [
            {"name": "c", "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}}
        ],
    }
    problems = list(restricted_problems(pod))
    for expected in (
        "hostNetwork",
        "hostPath",
        "privileged",
        "allowPrivilegeEscalation",
        "drop ALL",
        "adds",
        "runAsNonRoot",
        "seccompProfile",
    ):
        assert any(expected in p for p in problems), expected


def test_ray_is_locked_down_and_pod_options_reach_every_pod() -> None:
    corpus = load_corpus(CORPUS)
    job = render_rayjob(
        corpus, ModelProfile.model_validate(FULL_PROFILE), RenderSettings(image_pull_secrets=("base",))
    )
    assert job["spec"]["rayClusterSpec"]["authOptions"] == {"mode": "token"}
    for where, template in pod_templates(job).items():
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False, where
        assert "serviceAccountName" not in pod
        assert pod["priorityClassName"] == "batch-low"
        assert pod["imagePullSecrets"] == [{"name": "base"}, {"name": "registry-creds"}]
        assert pod["affinity"] == FULL_PROFILE["spec"]["affinity"]
        assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        assert template["metadata"]["labels"]["medbatch.io/corpus"] == "cardiology-2024"
    with_account = Corpus.model_validate(
        {**corpus.to_wire(), "spec": {**corpus.spec.to_wire(), "serviceAccountName": "notes-reader"}}
    )
    head = render_rayjob(with_account, load_model_profile(PROFILES[0]))["spec"]["rayClusterSpec"][
        "headGroupSpec"
    ]
    assert head["template"]["spec"]["serviceAccountName"] == "notes-reader"
    assert "automountServiceAccountToken" not in head["template"]["spec"]


@pytest.mark.parametrize("version", ["1.29", "1.33", "1.37"])
def test_network_policy_admits_only_the_corpus_pods_and_the_dashboard_peers(version: str) -> None:
    corpus = load_corpus(CORPUS)
    policy = render_network_policy(corpus)
    kubernetes_validate.validate(policy, version, strict=True)
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    job = render_rayjob(corpus, load_model_profile(PROFILES[0]))
    for where, template in pod_templates(job).items():
        labels = template["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= labels.items(), f"{where} is not covered"
    own, dashboard = spec["ingress"]
    pods = {"app.kubernetes.io/managed-by": "medbatch", "medbatch.io/corpus": "cardiology-2024"}
    assert own == {"from": [{"podSelector": {"matchLabels": pods}}]}
    assert dashboard["ports"] == [{"protocol": "TCP", "port": 8265}]
    # Peers name their namespace by the label the API server sets, so a look-alike pod elsewhere is not in.
    assert dashboard["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kuberay-system"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}},
        }
    ]
    to_own, dns, https = spec["egress"]
    assert to_own == {"to": [{"podSelector": {"matchLabels": pods}}]}
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert sorted(p["protocol"] for p in dns["ports"] if p["port"] == 53) == ["TCP", "UDP"]
    assert https == {"ports": [{"protocol": "TCP", "port": 443}]}, "object storage and hubs over HTTPS only"
    assert all(rule.get("to") or rule.get("ports") for rule in spec["egress"]), "no rule opens everything"


def test_no_dashboard_peers_admit_nobody_to_the_dashboard() -> None:
    """An empty ``from`` admits every source in the cluster: an empty peer list must render no rule."""
    policy = render_network_policy(load_corpus(CORPUS), RenderSettings(dashboard_peers=()))
    kubernetes_validate.validate(policy, "1.33", strict=True)
    assert len(policy["spec"]["ingress"]) == 1
    assert all(rule.get("from") for rule in policy["spec"]["ingress"]), "no rule admits every source"


def test_network_policy_egress_comes_from_the_settings() -> None:
    minio = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 9000}]}
    policy = render_network_policy(load_corpus(CORPUS), RenderSettings(egress=(minio,)))
    assert policy["spec"]["egress"][2:] == [minio]


def test_content_hash_changes_with_content_only() -> None:
    corpus = load_corpus(CORPUS)
    first = with_content_hash(render_configmap(corpus, load_model_profile(PROFILES[0])))
    again = with_content_hash(render_configmap(corpus, load_model_profile(PROFILES[0])))
    other = with_content_hash(render_configmap(corpus, load_model_profile(PROFILES[1])))
    digest = first["metadata"]["annotations"][CONTENT_HASH]
    assert digest == again["metadata"]["annotations"][CONTENT_HASH]
    assert digest != other["metadata"]["annotations"][CONTENT_HASH]


def test_rayjob_shape() -> None:
    corpus, profile = (
        load_corpus(CORPUS),
        load_model_profile(ROOT / "manifests" / "profiles" / "openbiollm-70b.yaml"),
    )
    job = render_rayjob(corpus, profile, RenderSettings(image="registry/medbatch-job:1"))
    spec = job["spec"]
    assert job["metadata"]["name"] == "medbatch-cardiology-2024"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["suspend"] is False
    assert spec["entrypoint"].startswith(
        "python -m medbatch.jobs.entrypoint --corpus /etc/medbatch/corpus.yaml"
    )
    (workers,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert (workers["replicas"], workers["minReplicas"], workers["maxReplicas"]) == (4, 4, 4)
    (container,) = workers["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert container["image"] == "registry/medbatch-job:1"
    assert container["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    shm = next(v for v in workers["template"]["spec"]["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "engines never land on the head"
    head_mounts = head["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "medbatch-config", "mountPath": "/etc/medbatch", "readOnly": True} in head_mounts


def test_profile_placement_and_pvc() -> None:
    corpus = load_corpus(CORPUS)
    profile = ModelProfile.model_validate(FULL_PROFILE)
    pod = render_rayjob(corpus, profile)["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "h100"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert {"name": "model", "mountPath": "/models/weights", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]
    assert pod["containers"][0]["image"] == "img:2"


def test_long_names_are_shortened_stably() -> None:
    corpus = load_corpus(CORPUS).model_copy(deep=True)
    long = Corpus.model_validate({**corpus.to_wire(), "metadata": {"name": "x" * 63}})
    name = child_name(long, "-config")
    assert len(name) <= 63
    assert name == child_name(long, "-config")


def test_configmap_round_trips_into_the_job_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBATCH_SURROGATE_KEY", "k" * 20)
    corpus, profile = load_corpus(CORPUS), load_model_profile(PROFILES[0])
    data = render_configmap(corpus, profile)["data"]
    (tmp_path / "corpus.yaml").write_text(data["corpus.yaml"])
    (tmp_path / "modelprofile.yaml").write_text(data["modelprofile.yaml"])
    again = load_corpus(tmp_path / "corpus.yaml")
    assert again.spec == corpus.spec
    config = job_config_for(
        again, tmp_path, engine=engine_config_from_profile(load_model_profile(tmp_path / "modelprofile.yaml"))
    )
    assert config.engine == engine_config_from_profile(profile)
    assert config.output_uri == "s3://results/cardiology-2024/"
