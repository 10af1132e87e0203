"""Start a Corpus's job: validate, resolve its ModelProfile and Secret, then create its RayJob (adopted by
the Corpus) or submit it to an existing, allowed RayCluster through the Jobs API.

Every step is idempotent, so kopf may run it again after a crash or a retry: children have fixed names and
an existing one is kept, and a Jobs API submission id derives from the Corpus uid.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx
import kopf

from medbatch.operator.admission import check_bounds, check_identity
from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.operator.jobs_api import JobsApiError, RayJobsClient, entrypoint_for, submission_id_for
from medbatch.operator.kube import InvalidNameError, Kube, KubeError, SecretDataError
from medbatch.operator.render import (
    CONTENT_HASH,
    child_name,
    render_configmap,
    render_network_policy,
    render_rayjob,
    with_content_hash,
)
from medbatch.spec import Corpus, ModelProfile, SpecError, parse_resource
from medbatch.spec.bounds import is_label_name, is_object_name


@dataclass(frozen=True)
class Launched:
    """What runs the Corpus: a RayJob (``rayjob`` set) or a Jobs API submission (``submission_id`` set).

    ``created`` says whether this call made the RayJob (False: an earlier attempt had); None for Jobs API
    submissions, which are idempotent by id and do not say whether they were new.
    """

    created: bool | None
    rayjob: str | None = None
    submission_id: str | None = None


def parse_corpus(body: Mapping[str, Any]) -> Corpus:
    """The Corpus from its object, or a non-retryable LaunchError listing every problem."""
    meta = body.get("metadata", {})
    try:
        corpus = parse_resource(dict(body), Corpus, f"Corpus {meta.get('namespace')}/{meta.get('name')}")
    except SpecError as exc:
        raise LaunchError("InvalidSpec", "; ".join(exc.problems), retry=False) from None
    if corpus.spec.output.uri is None:
        raise LaunchError(
            "OutputRequired",
            "spec.output.uri is required in a cluster (e.g. s3://bucket/results/); the job writes there",
            retry=False,
        )
    return corpus


async def resolve_profile(kube: Kube, corpus: Corpus) -> ModelProfile:
    """The Corpus's ModelProfile (retryable problems: it may be created or fixed later)."""
    name = corpus.spec.model
    document = await kube.model_profile(name)
    if document is None:
        raise LaunchError(
            "ModelProfileNotFound",
            f"ModelProfile '{name}' does not exist (kubectl get modelprofiles lists the installed ones); "
            "the Corpus starts once it is created",
            retry=True,
        )
    try:
        return parse_resource(document, ModelProfile, f"ModelProfile {name}")
    except SpecError as exc:
        raise LaunchError("InvalidModelProfile", "; ".join(exc.problems), retry=True) from None


async def read_secret(
    kube: Kube, namespace: str, name: str, purpose: str, *, marked_by: str = ""
) -> dict[str, str]:
    """A Secret's data, or a retryable LaunchError naming it (never its content).

    ``marked_by``: a label the Secret must carry with the value ``true`` (the platform's mark that a
    Corpus may use it); a Secret without it is refused before any of its data is decoded.
    """
    found = await kube.secret(namespace, name)
    if found is None:
        raise LaunchError(
            "SecretNotFound",
            f"Secret '{name}' ({purpose}) does not exist in namespace {namespace}; "
            "the Corpus starts once it is created",
            retry=True,
        )
    if marked_by and found.labels.get(marked_by) != "true":
        raise LaunchError(
            "Forbidden",
            f"Secret '{name}' ({purpose}) is not marked for Corpora: the platform allows a Secret by labelling "
            f"it {marked_by}=true; the Corpus starts once it is",
            retry=True,
        )
    try:
        return found.decoded()
    except SecretDataError as exc:
        raise LaunchError("InvalidSecret", f"Secret '{name}' ({purpose}): {exc}", retry=True) from None


def declares_auth_options(crd: Mapping[str, Any]) -> bool:
    """Whether a RayJob CRD's ``v1`` (the version medbatch creates) declares
    ``spec.rayClusterSpec.authOptions``; one that does not prunes it, and the Ray head runs without token
    authentication."""
    versions = [v for v in (crd.get("spec") or {}).get("versions") or [] if v.get("name") == "v1"]
    if not versions or not versions[0].get("served"):
        return False
    node: Any = (versions[0].get("schema") or {}).get("openAPIV3Schema") or {}
    for key in ("spec", "rayClusterSpec", "authOptions"):
        node = (node.get("properties") or {}).get(key)
        if not isinstance(node, Mapping):
            return False
    return True


def _not_allowed(name: str, namespace: str, config: OperatorConfig) -> LaunchError:
    return LaunchError(
        "RayClusterNotAllowed",
        f"RayCluster '{name}' is not open to Corpora; a platform team opens a cluster by listing it as "
        f"{namespace}/{name} in rayClusters.allowed"
        + (f" and labelling it {config.ray_cluster_selector}" if config.ray_cluster_selector else ""),
        retry=True,
    )


async def check_token_auth(kube: Kube) -> None:
    """Refuse to create a RayJob whose Ray head would run without a token (see ``declares_auth_options``).
    A CRD found fit is not read again by this operator process."""
    if kube.token_auth_checked:
        return
    crd = await kube.rayjob_crd()
    if crd is None:
        raise LaunchError(
            "KubeRayNotInstalled",
            "the RayJob CRD (rayjobs.ray.io) is not installed: install KubeRay 1.7 or later",
            retry=True,
        )
    if not declares_auth_options(crd):
        raise LaunchError(
            "RayTokenAuthUnsupported",
            "the installed RayJob CRD has no spec.rayClusterSpec.authOptions, so the Ray head would run "
            "without token authentication: upgrade KubeRay's CRDs (1.7 or later); nothing is started until then",
            retry=True,
        )
    kube.token_auth_checked = True


# KubeRay's names: the Secret it makes for a cluster with authOptions.mode token (named after the cluster
# unless authOptions.secretName says otherwise) holds the token under this key.
KUBERAY_TOKEN_KEY = "auth_token"  # noqa: S105 (the name of a Secret key, not a secret)
DASHBOARD_PORT = 8265


@dataclass(frozen=True)
class RayTarget:
    """Where a Corpus's Jobs API calls go: an allowed RayCluster's head service, with its token."""

    address: str
    token: str | None


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
    return RayTarget(address=address, token=token)


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
    return config.ray_head_url.format(
        service=service_name, namespace=namespace, port=_dashboard_port(cluster)
    )


def target_name(corpus: Corpus) -> str:
    """The RayCluster a ``spec.ray`` Corpus runs on."""
    assert corpus.spec.ray is not None
    return corpus.spec.ray.cluster_name


@contextlib.asynccontextmanager
async def ray_cluster(
    kube: Kube, corpus: Corpus, namespace: str, config: OperatorConfig
) -> AsyncIterator[RayJobsClient]:
    """A Jobs API client for ``spec.ray``'s cluster (see ``ray_target``), closed on exit."""
    target = await ray_target(kube, corpus, namespace, config)
    client = RayJobsClient(target.address, token=target.token)
    try:
        yield client
    finally:
        client.close()


async def launch(
    kube: Kube, body: Mapping[str, Any], config: OperatorConfig, submission_id: str | None = None
) -> Launched:
    """Start the Corpus in ``body`` (or find what an earlier attempt started).

    Args:
        submission_id: for the Jobs API runner, the id to submit under (a resumed Corpus gets a new one);
            defaults to the Corpus's first.
    """
    corpus = parse_corpus(body)
    namespace = str(body["metadata"]["namespace"])
    check_identity(corpus, namespace, config)
    try:
        return await _launch(kube, corpus, namespace, body, config, submission_id)
    except KubeError as exc:
        raise _api_problem(exc) from None


async def _launch(
    kube: Kube,
    corpus: Corpus,
    namespace: str,
    body: Mapping[str, Any],
    config: OperatorConfig,
    submission_id: str | None,
) -> Launched:
    profile = await resolve_profile(kube, corpus)
    check_bounds(corpus, profile, namespace, config)
    if corpus.spec.credentials is not None:
        await read_secret(
            kube,
            namespace,
            corpus.spec.credentials.secret_ref.name,
            "object-storage credentials",
            marked_by=config.credentials_secret_label,
        )
    if corpus.spec.ray is not None:
        return await _submit(kube, corpus, profile, body, submission_id, config)
    await check_token_auth(kube)
    configmap = with_content_hash(render_configmap(corpus, profile))
    rayjob = with_content_hash(render_rayjob(corpus, profile, config.render_settings()))
    children = [configmap, rayjob]
    if config.network_policy:
        children.append(with_content_hash(render_network_policy(corpus, config.render_settings())))
    kopf.adopt(children, owner=kopf.Body(cast(kopf.RawBody, dict(body))))
    created = {}
    for child in children:
        created[child["kind"]] = await _create_owned(kube, child, str(body["metadata"].get("uid")))
    return Launched(created=created["RayJob"], rayjob=child_name(corpus))


async def _create_owned(kube: Kube, document: dict[str, Any], owner_uid: str) -> bool:
    """Create a child object, or keep the one there if this Corpus owns it and it has the same content.

    Returns whether this call created it. A same-named object of another owner (an earlier Corpus that
    Kubernetes has not garbage-collected yet, or someone else's) is never adopted; an owned one with other
    content is brought up to date (ConfigMap, NetworkPolicy) or, for a RayJob that may already run, left for
    a person to delete.
    """
    kind, name = document["kind"], document["metadata"]["name"]
    try:
        existing, created = await kube.create_or_get(document)
    except KubeError as exc:
        raise _api_problem(exc) from None
    if created:
        return True
    meta = existing.get("metadata") or {}
    if owner_uid not in [ref.get("uid") for ref in meta.get("ownerReferences") or []]:
        raise LaunchError(
            f"{kind}NameTaken",
            f"{kind} {name} exists and belongs to another object; waiting for it to be deleted",
            retry=True,
        )
    if (meta.get("annotations") or {}).get(CONTENT_HASH) == document["metadata"]["annotations"][CONTENT_HASH]:
        return False
    if kind == "RayJob":
        raise LaunchError(
            "RayJobOutOfDate",
            f"RayJob {name} was made for an earlier version of this Corpus; delete it (kubectl delete rayjob "
            f"{name}) and the operator creates it again",
            retry=True,
        )
    try:
        await kube.patch_object(
            document, {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
        )
    except KubeError as exc:
        raise _api_problem(exc) from None
    return False


def _api_problem(exc: KubeError) -> LaunchError:
    """What a failed Kubernetes call means for the Corpus (the message holds no text from the server)."""
    if isinstance(exc, InvalidNameError):
        return LaunchError("InvalidName", f"{exc}; nothing was read or sent", retry=False)
    if exc.code == 403:
        return LaunchError(
            "Forbidden",
            f"{exc.action} was forbidden (HTTP 403): the operator's RBAC lacks a permission (see the chart's "
            "ClusterRole); retrying",
            retry=True,
        )
    if exc.code in (400, 422):
        # Validation or an admission webhook (KubeRay's, a policy engine's) refused it: retrying cannot help.
        # The server's own message is not repeated: it may quote the object.
        return LaunchError(
            "Rejected",
            f"{exc}; `medbatch render` prints the objects, and `kubectl create --dry-run=server -f -` "
            "shows the API server's reason",
            retry=False,
        )
    return LaunchError("KubernetesUnavailable", f"{exc}; retrying", retry=True)


async def _submit(
    kube: Kube,
    corpus: Corpus,
    profile: ModelProfile,
    body: Mapping[str, Any],
    submission_id: str | None,
    config: OperatorConfig,
) -> Launched:
    namespace = str(body["metadata"]["namespace"])
    submission = submission_id or submission_id_for(str(body["metadata"]["uid"]))
    async with ray_cluster(kube, corpus, namespace, config) as client:
        try:
            info = await asyncio.to_thread(
                client.submit,
                submission,
                entrypoint_for(corpus, profile),
                metadata={"medbatch.io/corpus": f"{namespace}/{corpus.metadata.name}"},
            )
        except JobsApiError as exc:
            raise LaunchError("RayClusterUnavailable", str(exc), retry=True) from None
        except httpx.HTTPError as exc:  # the exception's text is not shown: it may quote the server
            raise LaunchError(
                "RayClusterUnavailable",
                f"cannot reach the Jobs API of RayCluster '{target_name(corpus)}' "
                f"({type(exc).__name__}); retrying",
                retry=True,
            ) from None
    return Launched(created=None, submission_id=info.submission_id)


__all__ = ["KubeError", "LaunchError", "Launched", "launch", "parse_corpus"]
