"""What the platform lets a Corpus do, checked before anything is created for it.

Each check raises ``LaunchError`` with a reason and a message a platform engineer can act on, and never
echoes a URI (file names often carry names or record numbers) or anything read from a Secret.

- **identity**: a ``spec.serviceAccountName`` only from the platform's list;
- **locations**: source and output in object storage only (a local path would be the pod's or the
  operator's own filesystem), within the platform's location patterns for the namespace, where
  ``{namespace}`` keeps one namespace's Corpora out of another's prefix;
- **size**: replicas and GPUs (replicas x the profile's GPUs per replica) within the platform's caps.
"""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.spec import Corpus, ModelProfile


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
