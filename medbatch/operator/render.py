"""Render the Kubernetes objects a Corpus needs: a ConfigMap with the job's inputs and a KubeRay RayJob.

Pure functions from the spec models to plain dicts, tested without Kubernetes against KubeRay's own CRD
schema (KubeRay v1.7.0, ``ray.io/v1``). The handlers adopt the dicts (owner references) and create them.
The ConfigMap carries the Corpus and the ModelProfile as YAML, so the job builds its configuration with
the same code as ``medbatch run`` and the operator never needs the job's libraries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from medbatch import __version__
from medbatch.spec import Corpus, ModelProfile
from medbatch.spec.run_files import CONFIG_MOUNT, MODEL_MOUNT_ROOT, entrypoint_command, spec_files

KUBERAY_API = "ray.io/v1"
LABEL_CORPUS = "medbatch.io/corpus"
MANAGED_BY = {"app.kubernetes.io/managed-by": "medbatch"}
CONTENT_HASH = "medbatch.io/content-hash"
DASHBOARD_PORT = 8265
# The job image's user (Ray's images run as uid 1000); a numeric id lets the kubelet check runAsNonRoot.
RAY_UID = 1000
# KubeRay's operator polls the head's dashboard for the job's state; its chart labels its pods so. The
# namespace is named too (the API server sets kubernetes.io/metadata.name, no user can), so a pod elsewhere
# that labels itself like KubeRay's operator is not let in.
NAMESPACE_NAME = "kubernetes.io/metadata.name"
KUBERAY_OPERATOR_PEER: dict[str, Any] = {
    "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "kuberay-system"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}},
}
# Egress the Ray pods need besides each other and DNS: object storage and model hubs over HTTPS.
HTTPS_EGRESS: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": 443}]}
# The cluster DNS (kube-dns / CoreDNS in kube-system, labelled k8s-app=kube-dns by every distribution).
DNS_EGRESS: dict[str, Any] = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


@dataclass(frozen=True)
class RenderSettings:
    """Operator-wide defaults (from the Helm chart's values).

    Args:
        image: job image (Ray + vLLM + medbatch[jobs]) when the profile names none.
        ray_version: the Ray version in that image.
        head_cpu, head_memory: the head pod runs the driver (planning, manifest), not the engines.
        cpu_per_gpu, memory_per_gpu: worker requests per GPU of a replica (weights load through host memory).
        shm_size: memory-backed /dev/shm for Ray's object store.
        active_deadline_seconds, backoff_limit, ttl_seconds_after_finished: RayJob lifecycle bounds.
        priority_class_name: PriorityClass of the Ray pods when the profile names none.
        image_pull_secrets: pull Secrets for the job image (a profile may add more).
        dashboard_peers: NetworkPolicy peers, besides the Corpus's own pods, allowed to reach the head's
            dashboard and Jobs API (KubeRay's operator polls it).
        egress: NetworkPolicy egress rules of the Ray pods besides each other and DNS (object storage,
            model hub, an OpenAI-compatible endpoint).
        child_labels: label keys a Corpus's own labels may pass to its RayJob (Kueue's queue name by
            default; a priority-class label only where the platform adds it). No other label is copied.
    """

    image: str = f"ghcr.io/medbatch/medbatch-job:{__version__}"
    ray_version: str = "2.60.0"
    head_cpu: str = "4"
    head_memory: str = "16Gi"
    cpu_per_gpu: int = 8
    memory_per_gpu_gi: int = 48
    shm_size: str = "16Gi"
    active_deadline_seconds: int = 7 * 24 * 3600
    backoff_limit: int = 2
    ttl_seconds_after_finished: int = 3600
    priority_class_name: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    dashboard_peers: tuple[dict[str, Any], ...] = field(default=(KUBERAY_OPERATOR_PEER,))
    egress: tuple[dict[str, Any], ...] = field(default=(HTTPS_EGRESS,))
    child_labels: tuple[str, ...] = (KUEUE_QUEUE_LABEL,)


def child_name(corpus: Corpus, suffix: str = "") -> str:
    """A DNS-1123 name for an object created for ``corpus``, unique per Corpus, at most 63 characters."""
    base = f"medbatch-{corpus.metadata.name}{suffix}"
    if len(base) <= 63:
        return base
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def with_content_hash(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with an annotation hashing what it holds, so an existing copy can be compared."""
    content = {k: v for k, v in document.items() if k not in ("metadata", "status")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    metadata = document["metadata"]
    return {
        **document,
        "metadata": {**metadata, "annotations": {**metadata.get("annotations", {}), CONTENT_HASH: digest}},
    }


def _labels(corpus: Corpus) -> dict[str, str]:
    return {**MANAGED_BY, LABEL_CORPUS: corpus.metadata.name}


def _passed_labels(corpus: Corpus, allowed: tuple[str, ...]) -> dict[str, str]:
    """The Corpus's labels the platform lets through to its RayJob (never onto pods: Kueue's pod
    integration would take a queue label on a pod as a workload of its own)."""
    labels = (corpus.metadata.model_extra or {}).get("labels") or {}
    return {k: str(v) for k, v in labels.items() if k in allowed}


def render_configmap(corpus: Corpus, profile: ModelProfile) -> dict[str, Any]:
    """The ConfigMap holding the job's inputs (no secrets: credentials come from the Secret as env)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": child_name(corpus, "-config"),
            "labels": _labels(corpus),
        },
        "data": spec_files(corpus, profile),
    }


def _env_from(corpus: Corpus) -> list[dict[str, Any]]:
    credentials = corpus.spec.credentials
    return [{"secretRef": {"name": credentials.secret_ref.name}}] if credentials else []


def _volumes(
    corpus: Corpus, profile: ModelProfile, settings: RenderSettings, *, config: bool
) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": settings.shm_size}}
    ]
    if config:
        volumes.append({"name": "medbatch-config", "configMap": {"name": child_name(corpus, "-config")}})
    source = profile.spec.source
    if source is not None and source.pvc:
        volumes.append(
            {"name": "model", "persistentVolumeClaim": {"claimName": source.pvc, "readOnly": True}}
        )
    return volumes


def _mounts(profile: ModelProfile, *, config: bool) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [{"name": "shm", "mountPath": "/dev/shm"}]  # noqa: S108 (a mount point in the pod)
    if config:
        mounts.append({"name": "medbatch-config", "mountPath": CONFIG_MOUNT, "readOnly": True})
    source = profile.spec.source
    if source is not None and source.pvc:
        mounts.append({"name": "model", "mountPath": f"{MODEL_MOUNT_ROOT}/{source.pvc}", "readOnly": True})
    return mounts


# Pod Security Standards "restricted": the pods run in namespaces that enforce it.
_RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": _RUNTIME_DEFAULT,
}


def _pod_spec(
    corpus: Corpus, profile: ModelProfile, settings: RenderSettings, containers: list[dict[str, Any]]
) -> dict[str, Any]:
    """A pod spec around ``containers`` with what every Ray pod of the Corpus shares: security context,
    identity, scheduling and pull secrets."""
    model = profile.spec
    pod: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RAY_UID,
            "runAsGroup": RAY_UID,
            "fsGroup": RAY_UID,
            "seccompProfile": _RUNTIME_DEFAULT,
        },
        "containers": [{**c, "securityContext": _CONTAINER_SECURITY} for c in containers],
    }
    if corpus.spec.service_account_name:
        pod["serviceAccountName"] = corpus.spec.service_account_name
    else:  # the job never calls the Kubernetes API: no token to steal
        pod["automountServiceAccountToken"] = False
    priority = model.priority_class_name or settings.priority_class_name
    if priority:
        pod["priorityClassName"] = priority
    pull = [
        *settings.image_pull_secrets,
        *(s for s in model.image_pull_secrets if s not in settings.image_pull_secrets),
    ]
    if pull:
        pod["imagePullSecrets"] = [{"name": name} for name in pull]
    if model.affinity:
        pod["affinity"] = dict(model.affinity)
    return pod


def _template(corpus: Corpus, profile: ModelProfile, pod: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": _labels(corpus)}
    if profile.spec.pod_annotations:
        metadata["annotations"] = dict(profile.spec.pod_annotations)
    return {"metadata": metadata, "spec": pod}


def render_network_policy(corpus: Corpus, settings: RenderSettings | None = None) -> dict[str, Any]:
    """Traffic of the Corpus's Ray pods: in only from each other and the dashboard peers; out only to each
    other, DNS and the egress rules of the settings (object storage, model hub).

    The head's GCS, dashboard and Jobs API would otherwise be reachable by any pod in the cluster; Ray's
    token authentication guards them too, this keeps the traffic from reaching them at all. "Each other"
    is the pods of the templates rendered here (head, workers, submitter), by the labels they carry: a
    pod of the same namespace given the same labels is let in too (only someone who may create pods in
    the namespace can do that). ``kubectl port-forward`` to the dashboard still works: it does not pass
    through the pod network.
    """
    settings = settings or RenderSettings()
    pods = {"matchLabels": {**MANAGED_BY, LABEL_CORPUS: corpus.metadata.name}}
    own = {"podSelector": pods}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": child_name(corpus, "-ray"), "labels": _labels(corpus)},
        "spec": {
            "podSelector": pods,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [own]},
                # An empty "from" admits every source: no peers means no rule, not an open port.
                *(
                    [
                        {
                            "from": [dict(peer) for peer in settings.dashboard_peers],
                            "ports": [{"protocol": "TCP", "port": DASHBOARD_PORT}],
                        }
                    ]
                    if settings.dashboard_peers
                    else []
                ),
            ],
            "egress": [{"to": [own]}, DNS_EGRESS, *(dict(rule) for rule in settings.egress)],
        },
    }


def render_rayjob(
    corpus: Corpus, profile: ModelProfile, settings: RenderSettings | None = None
) -> dict[str, Any]:
    """The RayJob that runs ``corpus`` with ``profile``: a CPU head for the driver, one GPU worker per replica.

    Every pod (head, workers, the submitter) passes the "restricted" Pod Security Standard, runs without a
    Kubernetes API token unless the Corpus names a ServiceAccount, and the cluster uses Ray's token
    authentication (KubeRay makes the token Secret and hands it to every Ray container).
    """
    settings = settings or RenderSettings()
    spec, model = corpus.spec, profile.spec
    image = model.image or settings.image
    gpus = model.gpu.count
    worker_resources: dict[str, Any] = {
        "requests": {
            "cpu": str(max(gpus, 1) * settings.cpu_per_gpu),
            "memory": f"{max(gpus, 1) * settings.memory_per_gpu_gi}Gi",
        },
        "limits": {"memory": f"{max(gpus, 1) * settings.memory_per_gpu_gi}Gi"},
    }
    if gpus:
        worker_resources["requests"][model.gpu.resource] = str(gpus)
        worker_resources["limits"][model.gpu.resource] = str(gpus)
    env = [{"name": "MEDBATCH_LOG_FORMAT", "value": "json"}]
    worker_pod = _pod_spec(
        corpus,
        profile,
        settings,
        [
            {
                "name": "ray-worker",
                "image": image,
                "resources": worker_resources,
                "envFrom": _env_from(corpus),
                "env": env,
                "volumeMounts": _mounts(profile, config=False),
            }
        ],
    )
    worker_pod["volumes"] = _volumes(corpus, profile, settings, config=False)
    if model.node_selector:
        worker_pod["nodeSelector"] = dict(model.node_selector)
    if model.tolerations:
        worker_pod["tolerations"] = [dict(t) for t in model.tolerations]
    head_pod = _pod_spec(
        corpus,
        profile,
        settings,
        [
            {
                "name": "ray-head",
                "image": image,
                "resources": {
                    "requests": {"cpu": settings.head_cpu, "memory": settings.head_memory},
                    "limits": {"memory": settings.head_memory},
                },
                "ports": [
                    {"containerPort": 6379, "name": "gcs"},
                    {"containerPort": DASHBOARD_PORT, "name": "dashboard"},
                    {"containerPort": 10001, "name": "client"},
                ],
                "envFrom": _env_from(corpus),
                "env": env,
                "volumeMounts": _mounts(profile, config=True),
            }
        ],
    )
    head_pod["volumes"] = _volumes(corpus, profile, settings, config=True)
    # The submitter runs `ray job submit` (KubeRay fills in the command and the head's address); it only
    # needs to be as locked down as the rest.
    submitter_pod = _pod_spec(
        corpus,
        profile,
        settings,
        [
            {
                "name": "ray-job-submitter",
                "image": image,
                "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            }
        ],
    )
    submitter_pod["restartPolicy"] = "Never"
    return {
        "apiVersion": KUBERAY_API,
        "kind": "RayJob",
        "metadata": {
            "name": child_name(corpus),
            # medbatch's own labels last: a Corpus cannot pass one of them
            "labels": {**_passed_labels(corpus, settings.child_labels), **_labels(corpus)},
        },
        "spec": {
            "entrypoint": entrypoint_command(),
            "submissionMode": "K8sJobMode",
            "submitterPodTemplate": _template(corpus, profile, submitter_pod),
            "suspend": spec.suspend,
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "backoffLimit": settings.backoff_limit,
            "rayClusterSpec": {
                "rayVersion": settings.ray_version,
                "authOptions": {"mode": "token"},
                "headGroupSpec": {
                    # The head runs the driver only: engines must land on the GPU workers.
                    "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},  # noqa: S104 (pod IP; NetworkPolicy)
                    "template": _template(corpus, profile, head_pod),
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "engine",
                        "replicas": spec.replicas,
                        "minReplicas": spec.replicas,
                        "maxReplicas": spec.replicas,
                        "rayStartParams": {},
                        "template": _template(corpus, profile, worker_pod),
                    }
                ],
            },
        },
    }
