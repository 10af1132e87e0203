"""Read a running job's ``_progress.json`` and ``_manifest.json`` from its output folder.

This is how progress reaches the Corpus status: the job writes these files next to its results and the
operator reads them with the Corpus's own object-storage credentials (the Secret's keys, the same ones
the job gets as environment). The job needs no Kubernetes permissions, and the status does not depend on
a pod being reachable. obstore keeps the operator image free of the job's I/O stack.

The operator reads as the tenant and nobody else (``ReadPolicy``): with the Secret's keys, or unsigned
when the Corpus gives none; never with its own identity (its environment, IRSA, instance metadata), which
obstore would otherwise pick up. An endpoint named in the Secret must be on the platform's allow-list, so
a Corpus cannot point the operator's requests at a server of its choice; each file is one ranged GET of at
most ``MAX_FILE_BYTES``, so an oversized file is an error state, not the operator's memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import obstore
from obstore.store import LocalStore, ObjectStore, S3Store
from pydantic import BaseModel, ValidationError

from medbatch.spec.run_files import MANIFEST_FILE, PROGRESS_FILE, ManifestSummary, ProgressReport

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Config, S3Credential

# The progress and manifest files are a few KiB; anything larger is not one of ours.
MAX_FILE_BYTES = 64 * 1024


# Secret keys (environment names, as the job reads them) that configure where requests go.
_REGION_KEYS = ("AWS_REGION", "AWS_DEFAULT_REGION")
_ENDPOINT_KEYS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class ReadPolicy:
    """What the platform lets the operator read.

    Args:
        allowed_endpoints: S3 endpoints a credentials Secret may name, as origins
            (``https://minio.storage.svc:9000``); empty allows only the default AWS endpoints.
        local: read plain paths and ``file://`` (development against a local Ray cluster; in a cluster it
            would let a Corpus make the operator read its own filesystem).
    """

    allowed_endpoints: tuple[str, ...] = ()
    local: bool = False

    def allows_endpoint(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s origin (scheme, host, port) is on the allow-list."""
        return _origin(endpoint) in {_origin(e) for e in self.allowed_endpoints}


def _origin(url: str) -> str:
    parsed = urlparse(url.strip())
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme.lower()}://{(parsed.hostname or '').lower()}{port}"


class RunFilesError(RuntimeError):
    """The output folder could not be read (the message names the file, never its content)."""


class RunFiles(BaseModel):
    """What the output folder says about the run (None where a file is not there yet)."""

    progress: ProgressReport | None = None
    outcome: ManifestSummary | None = None


def _static_credentials(credentials: Mapping[str, str]) -> S3Credential | None:
    """The Secret's keys as one static credential, or None when it has none."""
    key, secret = credentials.get("AWS_ACCESS_KEY_ID"), credentials.get("AWS_SECRET_ACCESS_KEY")
    if not key and not secret:
        return None
    if not key or not secret:
        raise RunFilesError(
            "the credentials Secret has one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY only"
        )
    return {
        "access_key_id": key,
        "secret_access_key": secret,
        "token": credentials.get("AWS_SESSION_TOKEN") or None,
        "expires_at": None,
    }


def _s3_store(bucket: str, credentials: Mapping[str, str], policy: ReadPolicy) -> S3Store:
    config: S3Config = {}
    region = next((credentials[k] for k in _REGION_KEYS if credentials.get(k)), None)
    if region:
        config["region"] = region
    endpoint = next((credentials[k] for k in _ENDPOINT_KEYS if credentials.get(k)), None)
    if endpoint:
        if not policy.allows_endpoint(endpoint):
            raise RunFilesError(
                "the endpoint in the credentials Secret is not one the platform allows "
                "(the chart's operator.allowedEndpoints)"
            )
        config["endpoint"] = endpoint
    static = _static_credentials(credentials)
    client_options: ClientConfig = {"allow_http": bool(endpoint and endpoint.startswith("http://"))}
    if static is None:
        # Unsigned: the operator's own credentials (environment, IRSA, instance metadata) are never used.
        return S3Store(bucket, config={**config, "skip_signature": True}, client_options=client_options)

    def provide() -> S3Credential:
        return static

    # A credential provider replaces every other source of credentials obstore would look at.
    return S3Store(bucket, config=config, client_options=client_options, credential_provider=provide)


def _store(output_uri: str, credentials: Mapping[str, str], policy: ReadPolicy) -> tuple[ObjectStore, str]:
    """The store holding ``output_uri`` and the folder's path inside it."""
    parsed = urlparse(output_uri)
    if parsed.scheme == "s3":
        return _s3_store(parsed.netloc, credentials, policy), parsed.path.strip("/")
    if parsed.scheme in ("", "file"):
        if not policy.local:
            raise RunFilesError("the operator does not read local output folders in a cluster")
        return LocalStore(), (parsed.path if parsed.scheme else output_uri).lstrip("/")
    raise RunFilesError(f"the operator cannot read {parsed.scheme}:// output folders yet")


async def _read_json(store: ObjectStore, path: str) -> Any | None:
    name = path.rsplit("/", 1)[-1]
    try:
        # One byte more than allowed tells an oversized file from one of exactly the limit.
        result = await obstore.get_async(store, path, options={"range": (0, MAX_FILE_BYTES + 1)})
        data = await result.bytes_async()
    except FileNotFoundError:
        return None
    except Exception as exc:  # obstore raises its own error types per backend
        raise RunFilesError(f"cannot read {name}: {type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RunFilesError(f"{name} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return json.loads(bytes(data))
    except ValueError:
        raise RunFilesError(f"{name} is not JSON") from None


async def read_run_files(output_uri: str, credentials: Mapping[str, str], policy: ReadPolicy) -> RunFiles:
    """Read the job's progress and manifest from ``output_uri`` (either may be missing).

    Args:
        output_uri: the Corpus's ``spec.output.uri``.
        credentials: the credentials Secret's data (environment names to values); empty for none.
        policy: what the platform lets the operator read.

    Raises:
        RunFilesError: the folder cannot or may not be read, or a file is not one of ours.
    """
    store, folder = _store(output_uri, credentials, policy)
    prefix = f"{folder}/" if folder else ""
    progress = await _read_json(store, prefix + PROGRESS_FILE)
    manifest = await _read_json(store, prefix + MANIFEST_FILE)
    try:
        return RunFiles(
            progress=ProgressReport.model_validate(progress) if progress is not None else None,
            outcome=ManifestSummary.model_validate(manifest) if manifest is not None else None,
        )
    except ValidationError:
        raise RunFilesError("the progress or manifest file does not have the expected fields") from None
