"""What the platform lets a Corpus do, checked before anything is created or submitted for it.

``admit`` runs every check, in order, and returns a ``Plan`` (what the Corpus may run, with what it
resolved) or raises the first ``LaunchError``. Each check raises ``LaunchError`` with a reason and a
message a platform engineer can act on, and never echoes a URI (file names often carry names or record
numbers) or anything read from a Secret.

- **identity**: a ``spec.serviceAccountName`` only from the platform's list;
- **locations**: source and output in object storage only (a local path would be the pod's or the
  operator's own filesystem), within the platform's location patterns for the namespace, where
  ``{namespace}`` keeps one namespace's Corpora out of another's prefix;
- **size**: replicas and GPUs (replicas x the profile's GPUs per replica) within the platform's caps;
- **credentials**: the Corpus's Secret, only when the platform has marked it for Corpora;
- **the cluster**: a RayJob only where KubeRay enforces Ray token authentication; a RayCluster only
  when the platform has opened it (``ray_clusters.ray_target``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.operator.kube import Kube, SecretDataError
from medbatch.operator.ray_clusters import RayTarget, ray_target
from medbatch.operator.resource import CorpusObject
from medbatch.spec import Corpus, ModelProfile, SpecError, parse_resource


def allows_service_account(config: OperatorConfig, namespace: str, account: str) -> bool:
    """Whether the platform lets Corpora of ``namespace`` run as ``account``: an entry
    ``namespace/name`` or ``namespace/*`` allows it there only; a bare ``name`` in every watched
    namespace (whoever may create a ServiceAccount of that name in a namespace then gets to use it)."""
    allowed = config.allowed_service_accounts
    return account in allowed or f"{namespace}/{account}" in allowed or f"{namespace}/*" in allowed


def check_identity(corpus: Corpus, namespace: str, config: OperatorConfig) -> None:
    """Refuse a ``spec.serviceAccountName`` the platform has not allowed this namespace (creating a Corpus
    runs pods as that account, with its token)."""
    account = corpus.spec.service_account_name
    if account and not allows_service_account(config, namespace, account):
        allowed = ", ".join(config.allowed_service_accounts) or "none"
        raise LaunchError(
            "Forbidden",
            f"spec.serviceAccountName '{account}' is not a ServiceAccount Corpora of namespace {namespace} may "
            f"run as (allowed by the platform: {allowed}); remove it to run without a token, or ask for it "
            "to be allowed",
            retry=True,
        )


def _local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _climbs(uri: str) -> bool:
    """A path with ``.``/``..`` segments or empty ones: a store or a client may resolve them, so a
    pattern matched on the text would not bound where the data goes."""
    segments = urlsplit(uri).path.split("/")[1:-1]
    return any(seg in ("", ".", "..") for seg in segments) or urlsplit(uri).path.endswith(("/.", "/.."))


def allowed_locations(config: OperatorConfig, namespace: str) -> list[str]:
    """The platform's location patterns for ``namespace`` (``{namespace}`` filled in)."""
    return [pattern.replace("{namespace}", namespace) for pattern in config.allowed_locations]


def check_locations(corpus: Corpus, namespace: str, config: OperatorConfig) -> None:
    """Refuse a source or output the platform does not allow this namespace."""
    patterns = allowed_locations(config, namespace)
    for field, uri in (
        ("spec.source.uri", corpus.spec.source.uri),
        ("spec.output.uri", corpus.spec.output.uri),
    ):
        if uri is None or _local(uri):  # no output URI: a local folder
            if config.read_local_output:
                continue  # development against a local Ray cluster
            raise LaunchError(
                "Forbidden",
                f"{field} is a local path; in a cluster a Corpus reads and writes object storage only "
                "(s3://, gs://)",
                retry=False,
            )
        if _climbs(uri):
            raise LaunchError(
                "Forbidden",
                f"{field} has '.', '..' or empty path segments; write the prefix plainly",
                retry=False,
            )
        prefix = uri if uri.endswith("/") else uri + "/"
        if patterns and not any(fnmatch.fnmatchcase(prefix, p) for p in patterns):
            raise LaunchError(
                "Forbidden",
                f"{field} is outside the locations the platform allows namespace {namespace} "
                f"({', '.join(patterns)})",
                retry=True,
            )


def check_size(corpus: Corpus, profile: ModelProfile, config: OperatorConfig) -> None:
    """Refuse more replicas or GPUs than the platform allows one Corpus."""
    replicas = corpus.spec.replicas
    if config.max_replicas is not None and replicas > config.max_replicas:
        raise LaunchError(
            "OverLimit",
            f"spec.replicas is {replicas}; the platform allows at most {config.max_replicas} per Corpus",
            retry=True,
        )
    gpus = replicas * profile.spec.gpu.count
    if config.max_gpus is not None and gpus > config.max_gpus:
        raise LaunchError(
            "OverLimit",
            f"{replicas} replicas of ModelProfile {profile.metadata.name} take {gpus} GPUs; the platform "
            f"allows at most {config.max_gpus} per Corpus",
            retry=True,
        )


def check_bounds(corpus: Corpus, profile: ModelProfile, namespace: str, config: OperatorConfig) -> None:
    """Every platform bound on a Corpus that has found its ModelProfile: locations, then size."""
    check_locations(corpus, namespace, config)
    check_size(corpus, profile, config)


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


# How long a RayJob CRD found fit is trusted before it is read again: KubeRay's CRDs may be downgraded
# (or replaced by an older chart) while the operator runs.
TOKEN_AUTH_RECHECK_S = 300.0


async def check_token_auth(kube: Kube) -> None:
    """Refuse to create a RayJob whose Ray head would run without a token (see ``declares_auth_options``).
    A CRD found fit is read again after ``TOKEN_AUTH_RECHECK_S``, not on every launch."""
    checked = kube.token_auth_checked_at
    if checked is not None and monotonic() - checked < TOKEN_AUTH_RECHECK_S:
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
    kube.token_auth_checked_at = monotonic()


async def read_credentials(kube: Kube, resource: CorpusObject, config: OperatorConfig) -> dict[str, str]:
    """The Corpus's object-storage credentials (its Secret's data, once the platform has marked the
    Secret for Corpora), or none for a Corpus without one."""
    credentials = resource.corpus.spec.credentials
    if credentials is None:
        return {}
    return await read_secret(
        kube,
        resource.namespace,
        credentials.secret_ref.name,
        "object-storage credentials",
        marked_by=config.credentials_secret_label,
    )


@dataclass(frozen=True)
class Plan:
    """An admitted Corpus: everything the platform checked, and what the checks resolved.

    Args:
        target: the RayCluster a ``spec.ray`` Corpus runs on (None: a RayJob of its own).
    """

    resource: CorpusObject
    profile: ModelProfile
    target: RayTarget | None


async def admit(kube: Kube, resource: CorpusObject, config: OperatorConfig) -> Plan:
    """Every check a Corpus passes before anything runs for it (first start and resume alike), cheapest
    first and the identity before anything is read: a Plan, or the first problem as a LaunchError."""
    corpus, namespace = resource.corpus, resource.namespace
    check_identity(corpus, namespace, config)
    profile = await resolve_profile(kube, corpus)
    check_bounds(corpus, profile, namespace, config)
    await read_credentials(kube, resource, config)
    if corpus.spec.ray is not None:
        return Plan(resource, profile, await ray_target(kube, corpus, namespace, config))
    await check_token_auth(kube)
    return Plan(resource, profile, None)
