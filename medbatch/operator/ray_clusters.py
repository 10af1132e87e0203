"""Existing RayClusters a ``spec.ray`` Corpus may run on, and how the operator reaches them.

Trust comes from the platform and from ownership, never from what the Corpus's author controls: the
cluster must be on the chart's allow-list, its head Service and token Secret must be KubeRay's (owned by
the cluster), and the Service must stay inside the cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.operator.jobs_api import RayJobsClient
from medbatch.operator.kube import Kube, SecretDataError
from medbatch.spec import Corpus
from medbatch.spec.bounds import is_label_name, is_object_name


def _not_allowed(name: str, namespace: str, config: OperatorConfig) -> LaunchError:
    return LaunchError(
        "RayClusterNotAllowed",
        f"RayCluster '{name}' is not open to Corpora; a platform team opens a cluster by listing it as "
        f"{namespace}/{name} in rayClusters.allowed"
        + (f" and labelling it {config.ray_cluster_selector}" if config.ray_cluster_selector else ""),
        retry=True,
    )


# KubeRay's names: the Secret it makes for a cluster with authOptions.mode token (named after the cluster
# unless authOptions.secretName says otherwise) holds the token under this key.
KUBERAY_TOKEN_KEY = "auth_token"  # noqa: S105 (the name of a Secret key, not a secret)
DASHBOARD_PORT = 8265


@dataclass(frozen=True)
class RayTarget:
    """Where a Corpus's Jobs API calls go: an allowed RayCluster's head service, with its token."""

    address: str
    token: str | None
    ca_file: str | None = None

    def client(self) -> RayJobsClient:
        """A Jobs API client for this cluster (the caller closes it)."""
        return RayJobsClient(self.address, token=self.token, verify=self.ca_file or True)


def _dashboard_port(cluster: Mapping[str, Any]) -> int:
    head = ((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {}
    for container in (head.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == "dashboard" and port.get("containerPort"):
                return int(port["containerPort"])
    return DASHBOARD_PORT


async def ray_target(kube: Kube, corpus: Corpus, namespace: str, config: OperatorConfig) -> RayTarget:
    """The head service and token of ``spec.ray.clusterName``, if the platform allows the cluster.

    Trust comes from the platform and from ownership, not from what the Corpus's author controls: the
    cluster must be on the chart's allow-list (``rayClusters.allowed``); the head Service must be owned by
    that RayCluster (KubeRay's) and in-cluster (an ExternalName Service can point anywhere); the token
    Secret must be owned by it too. So a Corpus can neither point the operator at another URL nor make
    it read and send another Secret.
    """
    name = target_name(corpus)
    if not config.lists_ray_cluster(namespace, name):
        # Refused before anything is read: with no RayCluster listed, the operator needs no access to
        # RayClusters or Services at all (the chart grants none).
        raise _not_allowed(name, namespace, config)
    cluster = await kube.ray_cluster(namespace, name)
    if cluster is None:
        raise LaunchError(
            "RayClusterNotFound",
            f"RayCluster '{name}' does not exist in namespace {namespace}; the Corpus starts once it does",
            retry=True,
        )
    metadata = cluster.get("metadata") or {}
    if not config.allows_ray_cluster(namespace, name, metadata.get("labels") or {}):
        raise _not_allowed(name, namespace, config)
    uid = str(metadata.get("uid") or "")
    address = await _head_address(kube, cluster, namespace, uid, config)
    auth = (cluster.get("spec") or {}).get("authOptions") or {}
    token = None
    if auth.get("mode") == "token":
        secret = auth.get("secretName") or name
        if not isinstance(secret, str) or not is_object_name(secret):
            raise LaunchError(
                "RayTokenSecretInvalid",
                f"RayCluster '{name}' names a token Secret that is not a Kubernetes name",
                retry=True,
            )
        found = await kube.secret(namespace, secret)
        _require_owned(
            "RayTokenNotOwned",
            f"Secret '{secret}' (Ray token of RayCluster '{name}')",
            found is not None and uid in found.owners,
            found is None,
            name,
        )
        assert found is not None
        try:
            token = found.text(KUBERAY_TOKEN_KEY)
        except SecretDataError as exc:
            raise LaunchError("InvalidSecret", f"Secret '{secret}': {exc}", retry=True) from None
        if not token:
            raise LaunchError(
                "RayTokenNotFound",
                f"Secret '{secret}' has no {KUBERAY_TOKEN_KEY} (Ray token of RayCluster '{name}')",
                retry=True,
            )
    return RayTarget(address=address, token=token, ca_file=config.ray_head_ca_file)


async def kuberay_made_token(kube: Kube, namespace: str, cluster: str) -> bool:
    """Whether KubeRay made the token Secret of ``cluster``, the RayCluster it runs a RayJob on: named
    after the cluster, owned by it and holding a token.

    The RayJob CRD keeping ``authOptions`` says only that the API server stores the field; a KubeRay
    controller older than the CRD ignores it and starts a head that takes requests without a token.
    Looked at once per cluster; nothing of the Secret is decoded.
    """
    if (namespace, cluster) in kube.token_secrets_seen:
        return True
    if not is_object_name(cluster):
        return False
    found = await kube.secret(namespace, cluster)
    made = found is not None and ("RayCluster", cluster) in found.owner_names and found.has(KUBERAY_TOKEN_KEY)
    if made:
        kube.token_secrets_seen.add((namespace, cluster))
    return made


def _require_owned(reason: str, what: str, owned: bool, missing: bool, cluster: str) -> None:
    """Refuse an object the RayCluster ``cluster`` does not own (KubeRay makes its head Service and token
    Secret, owned by it): ``what`` names the object, ``missing`` says it does not exist at all."""
    if missing or not owned:
        state = "does not exist" if missing else f"is not owned by RayCluster '{cluster}'"
        raise LaunchError(
            reason,
            f"{what} {state}; the operator uses only what KubeRay made for the cluster",
            retry=True,
        )


async def _head_address(
    kube: Kube, cluster: Mapping[str, Any], namespace: str, uid: str, config: OperatorConfig
) -> str:
    """The Jobs API address of the cluster's head, from a Service the cluster owns and that stays in the
    cluster."""
    name = str((cluster.get("metadata") or {}).get("name"))
    service_name = str(
        ((cluster.get("status") or {}).get("head") or {}).get("serviceName") or f"{name}-head-svc"
    )
    if not is_label_name(service_name):
        raise LaunchError(
            "RayHeadServiceInvalid",
            f"RayCluster '{name}' names a head Service that is not a DNS label",
            retry=True,
        )
    service = await kube.service(namespace, service_name)
    owners = {ref.get("uid") for ref in ((service or {}).get("metadata") or {}).get("ownerReferences") or []}
    _require_owned(
        "RayHeadServiceNotOwned", f"Service '{service_name}'", uid in owners, service is None, name
    )
    assert service is not None
    if (service.get("spec") or {}).get("type") == "ExternalName":
        raise LaunchError(
            "RayHeadServiceExternal",
            f"Service '{service_name}' is an ExternalName Service: it could point outside the cluster",
            retry=True,
        )
    port = _dashboard_port(cluster)
    address = config.ray_head_url.format(
        scheme=_scheme(service, port), service=service_name, namespace=namespace, port=port
    )
    if config.require_ray_head_https and not address.startswith("https://"):
        raise LaunchError(
            "RayHeadNotHttps",
            f"Service '{service_name}' does not declare HTTPS for the dashboard port (appProtocol: https), "
            "and the platform requires it: the Ray token would travel in the clear",
            retry=True,
        )
    return address


def _scheme(service: Mapping[str, Any], port: int) -> str:
    """``https`` where the head Service's dashboard port declares it (``appProtocol: https``: a TLS proxy
    or a mesh in front of the dashboard), else ``http``: Ray's dashboard itself serves plain HTTP."""
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("name") == "dashboard" or entry.get("port") == port:
            return "https" if entry.get("appProtocol") == "https" else "http"
    return "http"


def target_name(corpus: Corpus) -> str:
    """The RayCluster a ``spec.ray`` Corpus runs on."""
    assert corpus.spec.ray is not None
    return corpus.spec.ray.cluster_name


@contextlib.asynccontextmanager
async def ray_cluster(
    kube: Kube, corpus: Corpus, namespace: str, config: OperatorConfig
) -> AsyncIterator[RayJobsClient]:
    """A Jobs API client for ``spec.ray``'s cluster (see ``ray_target``), closed on exit."""
    client = (await ray_target(kube, corpus, namespace, config)).client()
    try:
        yield client
    finally:
        client.close()
