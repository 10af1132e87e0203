"""The operator's Kubernetes calls (besides kopf's own watching and patching), in one place.

Every call names the access it needs in ``PERMISSIONS``; the chart's RBAC is checked against that table
and the operator tests check that every request the operator makes is in it, so a missing verb fails CI
rather than a user's first install.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Secret, Service
from lightkube.types import PatchType

from medbatch.spec.bounds import is_label_name, is_object_name

GROUP, VERSION = "medbatch.io", "v1alpha1"
CORPORA, MODEL_PROFILES = "corpora", "modelprofiles"

RayJob = create_namespaced_resource("ray.io", "v1", "RayJob", "rayjobs")
RAYJOB_CRD = "rayjobs.ray.io"
RayCluster = create_namespaced_resource("ray.io", "v1", "RayCluster", "rayclusters")
CorpusResource = create_namespaced_resource(GROUP, VERSION, "Corpus", CORPORA)
ModelProfileResource = create_global_resource(GROUP, VERSION, "ModelProfile", MODEL_PROFILES)


@dataclass(frozen=True, order=True)
class Access:
    """One RBAC rule line: API group, resource (``corpora/status`` for a subresource) and verbs.

    ``cluster``: the resource is cluster-scoped, so even a namespace-limited install needs a ClusterRole
    for it. ``names``: the only objects it is needed on (``resourceNames``); empty for all. ``only``: the
    install that needs it ("" every one; ``NAMESPACED_MODE`` or ``CLUSTER_WIDE_MODE``: kopf peers through
    namespaced or cluster-wide peering objects; ``RAY_CLUSTERS``: only where ``rayClusters.allowed`` lists
    a RayCluster Corpora may run on). ``tenant``: an object of the tenant's own besides its Corpora and
    their Events (a Secret, a RayJob): with ``namespaceOptIn`` granted only in namespaces whose admins
    bind the chart's tenant ClusterRole, where the rest is granted everywhere so that a Corpus in a
    namespace that has not opted in still hears why nothing starts.
    """

    group: str
    resource: str
    verbs: tuple[str, ...]
    cluster: bool = False
    names: tuple[str, ...] = ()
    only: str = ""
    tenant: bool = False


NAMESPACED_MODE, CLUSTER_WIDE_MODE, RAY_CLUSTERS = "namespacedMode", "clusterWideMode", "rayClusters"


# What the operator needs. kopf: watch Corpora, patch them and their status (progress storage and
# finalizers live in annotations), post Events, and peer with other replicas through KopfPeering objects.
# medbatch: read ModelProfiles and Secrets, create and adopt ConfigMaps and RayJobs, suspend RayJobs.
PERMISSIONS: tuple[Access, ...] = (
    Access(GROUP, CORPORA, ("list", "watch", "patch")),
    Access(GROUP, f"{CORPORA}/status", ("patch",)),
    # Owner references with blockOwnerDeletion need it (OwnerReferencesPermissionEnforcement, OpenShift).
    Access(GROUP, f"{CORPORA}/finalizers", ("update",)),
    Access(GROUP, MODEL_PROFILES, ("get",), cluster=True),
    Access("", "events", ("create",)),
    Access("", "secrets", ("get",), tenant=True),
    Access("", "configmaps", ("get", "create", "patch"), tenant=True),
    Access("ray.io", "rayjobs", ("get", "create", "patch"), tenant=True),
    Access("ray.io", "rayclusters", ("get",), only=RAY_CLUSTERS, tenant=True),
    # The head Service of a RayCluster named in spec.ray: checked to be the cluster's own and in-cluster.
    Access("", "services", ("get",), only=RAY_CLUSTERS, tenant=True),
    Access("networking.k8s.io", "networkpolicies", ("get", "create", "patch"), tenant=True),
    Access("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch"), only=NAMESPACED_MODE),
    Access(
        "kopf.dev",
        "clusterkopfpeerings",
        ("get", "list", "watch", "patch"),
        cluster=True,
        only=CLUSTER_WIDE_MODE,
    ),
    # Whether the installed RayJob CRD knows authOptions (an older one prunes it: a head without a token).
    Access("apiextensions.k8s.io", "customresourcedefinitions", ("get",), cluster=True, names=(RAYJOB_CRD,)),
)


class SecretDataError(ValueError):
    """A Secret's value is not base64 of UTF-8 text. The message names the key, never the value."""


@dataclass(frozen=True)
class SecretView:
    """What the operator uses of a Secret: its labels (who marked it for what), the uids of its owners
    and its data.

    The data stays encoded until ``text`` or ``decoded`` is called, so a caller checks labels and owners
    first and nothing of a Secret that fails those checks is ever decoded (nor can its bytes reach an
    error message).
    """

    labels: dict[str, str]
    owners: frozenset[str]
    encoded: dict[str, str] = field(repr=False)
    plain: dict[str, str] = field(default_factory=dict, repr=False)
    owner_names: frozenset[tuple[str, str]] = frozenset()
    """The (kind, name) of each owner."""

    def has(self, key: str) -> bool:
        """Whether the Secret holds a value under ``key`` (nothing is decoded)."""
        return bool(self.encoded.get(key) or self.plain.get(key))

    def text(self, key: str) -> str | None:
        """The value under ``key`` as text, or None when there is none (SecretDataError if not text)."""
        if key in self.plain:
            return self.plain[key]
        if key not in self.encoded:
            return None
        try:
            return base64.b64decode(self.encoded[key], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SecretDataError(f"the value under key '{key}' is not text (UTF-8)") from None

    def decoded(self) -> dict[str, str]:
        """Every value as text (SecretDataError on the first that is not)."""
        return {key: self.text(key) or "" for key in sorted(self.encoded.keys() | self.plain.keys())}


def _owner_refs(metadata: Any) -> list[Any]:
    return list(getattr(metadata, "ownerReferences", None) or [])


def _owner_uids(metadata: Any) -> frozenset[str]:
    return frozenset(ref.uid for ref in _owner_refs(metadata))


def _plain(obj: Any) -> dict[str, Any]:
    """A lightkube object as a plain dict."""
    return dict(obj.to_dict())


class KubeError(RuntimeError):
    """A Kubernetes call failed for a reason other than not-found or already-exists.

    ``code`` is the HTTP status (403 forbidden by RBAC, 422 refused by validation or a webhook, ...). The
    message holds the action and the status's standard phrase, never the server's text: that may quote
    the object (a Secret's name, a rendered spec) and this message reaches Events and status.
    """

    def __init__(self, action: str, code: int) -> None:
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "error"
        super().__init__(f"{action}: HTTP {code} {phrase}")
        self.action, self.code = action, code


class InvalidNameError(KubeError):
    """A name or namespace is not a Kubernetes name, so no request was sent (code 0).

    Names reach this client from a Corpus's author or from objects they may write (a RayCluster's
    ``authOptions.secretName``). The spec models and the CRD refuse such names already; this is the last
    check before a URL is built, so a name like ``../../other-team/secrets/x`` can never leave its path
    segment whatever code path brought it here.
    """

    def __init__(self, kind: str) -> None:
        RuntimeError.__init__(self, f"a {kind} name that is not a Kubernetes name was refused")
        self.action, self.code = f"reading a {kind}", 0


def _checked(kind: str, name: Any, namespace: Any = None) -> None:
    """Refuse (InvalidNameError) a name that is not a DNS-1123 subdomain or a namespace that is not a label."""
    if not isinstance(name, str) or not is_object_name(name):
        raise InvalidNameError(kind)
    if namespace is not None and (not isinstance(namespace, str) or not is_label_name(namespace)):
        raise InvalidNameError("namespace")


def _fail(action: str, exc: ApiError) -> KubeError:
    return KubeError(action, exc.status.code or 0)


class Kube:
    """Async access to the objects medbatch reads and creates.

    Args:
        client: a lightkube client (from ``from_environment`` in a pod or with a kubeconfig).
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.closed = False
        # When the installed RayJob CRD was last found to keep token authentication (time.monotonic();
        # see admission.check_token_auth), None before.
        self.token_auth_checked_at: float | None = None
        # RayClusters of RayJobs whose token Secret KubeRay was found to have made (namespace, name), so
        # each is looked at once (see ray_clusters.kuberay_made_token).
        self.token_secrets_seen: set[tuple[str, str]] = set()

    @classmethod
    def from_environment(cls) -> Kube:
        """In a pod: the service account; elsewhere: $KUBECONFIG or ~/.kube/config (as kopf logs in)."""
        return cls(AsyncClient(KubeConfig.from_env(), field_manager="medbatch-operator"))

    async def close(self) -> None:
        """Close the connection pool (the operator is stopping: nothing may use the client after this)."""
        self.closed = True
        await self._client.close()

    async def _get(self, resource: Any, name: str, namespace: str | None = None) -> Any | None:
        """The object, or None when there is none (other API errors raise KubeError)."""
        _checked(resource.__name__, name, namespace)
        try:
            return await self._client.get(resource, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            where = f"{namespace}/{name}" if namespace else name
            raise _fail(f"reading {resource.__name__} {where}", exc) from None

    async def model_profile(self, name: str) -> dict[str, Any] | None:
        """The ModelProfile ``name`` as a dict, or None when there is none."""
        found = await self._get(ModelProfileResource, name)
        return None if found is None else _plain(found)

    async def secret(self, namespace: str, name: str) -> SecretView | None:
        """The Secret's labels, owners and (still encoded) data, or None when there is none. Never log or
        store the data."""
        found = await self._get(Secret, name, namespace)
        if found is None:
            return None
        return SecretView(
            labels=dict((found.metadata.labels if found.metadata else None) or {}),
            owners=_owner_uids(found.metadata),
            encoded=dict(found.data or {}),
            plain=dict(found.stringData or {}),
            owner_names=frozenset((ref.kind, ref.name) for ref in _owner_refs(found.metadata)),
        )

    async def rayjob_crd(self) -> dict[str, Any] | None:
        """KubeRay's RayJob CRD as installed, or None when there is none."""
        found = await self._get(CustomResourceDefinition, RAYJOB_CRD)
        return None if found is None else _plain(found)

    async def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Service as a dict, or None when there is none."""
        found = await self._get(Service, name, namespace)
        return None if found is None else _plain(found)

    async def create_or_get(self, document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the object (namespace from its metadata); when one with its name exists, return that one.

        Returns the object as the server has it and whether this call created it. A retried handler or a
        restarted operator thus never makes a second RayJob for a Corpus.
        """
        meta = document["metadata"]
        _checked(document["kind"], meta.get("name"), meta.get("namespace"))
        obj: Any = from_dict(document)
        try:
            created = await self._client.create(obj)
            return _plain(created), True
        except ApiError as exc:
            if exc.status.code != 409:
                raise _fail(f"creating {document['kind']} {meta['name']}", exc) from None
        existing = await self._client.get(type(obj), meta["name"], namespace=meta.get("namespace"))
        return _plain(existing), False

    async def patch_object(self, document: dict[str, Any], patch: dict[str, Any]) -> None:
        """Merge-patch the object ``document`` names (kind, name and namespace from its metadata)."""
        meta = document["metadata"]
        _checked(document["kind"], meta.get("name"), meta.get("namespace"))
        obj: Any = from_dict(document)
        try:
            await self._client.patch(
                type(obj), meta["name"], patch, namespace=meta.get("namespace"), patch_type=PatchType.MERGE
            )
        except ApiError as exc:
            raise _fail(f"patching {document['kind']} {meta['name']}", exc) from None

    async def rayjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The RayJob, or None when it is gone."""
        found = await self._get(RayJob, name, namespace)
        return None if found is None else _plain(found)

    async def ray_cluster(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The RayCluster, or None when there is none."""
        found = await self._get(RayCluster, name, namespace)
        return None if found is None else _plain(found)

    async def set_rayjob_suspend(self, namespace: str, name: str, suspend: bool) -> None:
        """Suspend or resume the RayJob (KubeRay deletes or recreates its cluster)."""
        _checked("RayJob", name, namespace)
        try:
            await self._client.patch(
                RayJob,
                name,
                {"spec": {"suspend": suspend}},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            raise _fail(f"patching RayJob {namespace}/{name}", exc) from None

    async def patch_corpus_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge ``status`` into the Corpus's status subresource (a deleted Corpus is not an error)."""
        _checked("Corpus", name, namespace)
        try:
            await self._client.patch(
                CorpusResource.Status,
                name,
                {"status": status},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            if exc.status.code != 404:
                raise _fail(f"patching the status of Corpus {namespace}/{name}", exc) from None


__all__ = [
    "PERMISSIONS",
    "Access",
    "InvalidNameError",
    "Kube",
    "KubeError",
    "RayJob",
    "SecretDataError",
    "SecretView",
]
