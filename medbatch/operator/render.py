"""Render the Kubernetes objects a Corpus needs: a ConfigMap with the job's inputs and a KubeRay RayJob.

Pure functions from the spec models to plain dicts, tested without Kubernetes against KubeRay's own CRD
schema (KubeRay v1.7.0, ``ray.io/v1``). The handlers adopt the dicts (owner references) and create them.
The ConfigMap carries the Corpus and the ModelProfile as YAML, so the job builds its configuration with
the same code as ``medbatch run`` and the operator never needs the job's libraries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import yaml

from medbatch.spec import Corpus, ModelProfile

KUBERAY_API = "ray.io/v1"
CONFIG_MOUNT = "/etc/medbatch"
CORPUS_FILE = "corpus.yaml"
PROFILE_FILE = "modelprofile.yaml"
MODEL_MOUNT_ROOT = "/models"
LABEL_CORPUS = "medbatch.io/corpus"
MANAGED_BY = {"app.kubernetes.io/managed-by": "medbatch"}


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
    """

    image: str = "ghcr.io/medbatch/medbatch-job:0.1.0"
    ray_version: str = "2.60.0"
    head_cpu: str = "4"
    head_memory: str = "16Gi"
    cpu_per_gpu: int = 8
    memory_per_gpu_gi: int = 48
    shm_size: str = "16Gi"
    active_deadline_seconds: int = 7 * 24 * 3600
    backoff_limit: int = 2
    ttl_seconds_after_finished: int = 3600


def child_name(corpus: Corpus, suffix: str = "") -> str:
    """A DNS-1123 name for an object created for ``corpus``, unique per Corpus, at most 63 characters."""
    base = f"medbatch-{corpus.metadata.name}{suffix}"
    if len(base) <= 63:
        return base
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def render_configmap(corpus: Corpus, profile: ModelProfile) -> dict[str, Any]:
    """The ConfigMap holding the job's inputs (no secrets: credentials come from the Secret as env)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": child_name(corpus, "-config"),
            "labels": {**MANAGED_BY, LABEL_CORPUS: corpus.metadata.name},
        },
        "data": {
            CORPUS_FILE: yaml.safe_dump(corpus.document(), sort_keys=False),
            PROFILE_FILE: yaml.safe_dump(profile.document(), sort_keys=False),
        },
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
    mounts: list[dict[str, Any]] = [{"name": "shm", "mountPath": "/dev/shm"}]
    if config:
        mounts.append({"name": "medbatch-config", "mountPath": CONFIG_MOUNT, "readOnly": True})
    source = profile.spec.source
    if source is not None and source.pvc:
        mounts.append({"name": "model", "mountPath": f"{MODEL_MOUNT_ROOT}/{source.pvc}", "readOnly": True})
    return mounts


_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def render_rayjob(
    corpus: Corpus, profile: ModelProfile, settings: RenderSettings | None = None
) -> dict[str, Any]:
    """The RayJob that runs ``corpus`` with ``profile``: a CPU head for the driver, one GPU worker per replica."""
    settings = settings or RenderSettings()
    spec, model = corpus.spec, profile.spec
    image = model.image or settings.image
    gpus = model.gpu.count
    labels = {**MANAGED_BY, LABEL_CORPUS: corpus.metadata.name}
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
    worker_pod: dict[str, Any] = {
        "containers": [
            {
                "name": "ray-worker",
                "image": image,
                "resources": worker_resources,
                "envFrom": _env_from(corpus),
                "env": [{"name": "MEDBATCH_LOG_FORMAT", "value": "json"}],
                "volumeMounts": _mounts(profile, config=False),
                "securityContext": _SECURITY,
            }
        ],
        "volumes": _volumes(corpus, profile, settings, config=False),
    }
    if model.node_selector:
        worker_pod["nodeSelector"] = dict(model.node_selector)
    if model.tolerations:
        worker_pod["tolerations"] = [dict(t) for t in model.tolerations]
    entrypoint = (
        f"python -m medbatch.jobs.entrypoint --corpus {CONFIG_MOUNT}/{CORPUS_FILE} "
        f"--profile {CONFIG_MOUNT}/{PROFILE_FILE}"
    )
    return {
        "apiVersion": KUBERAY_API,
        "kind": "RayJob",
        "metadata": {"name": child_name(corpus), "labels": labels},
        "spec": {
            "entrypoint": entrypoint,
            "submissionMode": "K8sJobMode",
            "suspend": spec.suspend,
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "backoffLimit": settings.backoff_limit,
            "rayClusterSpec": {
                "rayVersion": settings.ray_version,
                "headGroupSpec": {
                    # The head runs the driver only: engines must land on the GPU workers.
                    "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-head",
                                    "image": image,
                                    "resources": {
                                        "requests": {
                                            "cpu": settings.head_cpu,
                                            "memory": settings.head_memory,
                                        },
                                        "limits": {"memory": settings.head_memory},
                                    },
                                    "ports": [
                                        {"containerPort": 6379, "name": "gcs"},
                                        {"containerPort": 8265, "name": "dashboard"},
                                        {"containerPort": 10001, "name": "client"},
                                    ],
                                    "envFrom": _env_from(corpus),
                                    "env": [{"name": "MEDBATCH_LOG_FORMAT", "value": "json"}],
                                    "volumeMounts": _mounts(profile, config=True),
                                    "securityContext": _SECURITY,
                                }
                            ],
                            "volumes": _volumes(corpus, profile, settings, config=True),
                        },
                    },
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "engine",
                        "replicas": spec.replicas,
                        "minReplicas": spec.replicas,
                        "maxReplicas": spec.replicas,
                        "rayStartParams": {},
                        "template": {"metadata": {"labels": labels}, "spec": worker_pod},
                    }
                ],
            },
        },
    }
