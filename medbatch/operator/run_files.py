"""Read a running job's ``_progress.json`` and ``_manifest.json`` from its output folder.

This is how progress reaches the Corpus status: the job writes these files next to its results and the
operator reads them with the Corpus's own object-storage credentials (the Secret's keys, the same ones
the job gets as environment). The job needs no Kubernetes permissions, and the status does not depend on
a pod being reachable. obstore keeps the operator image free of the job's I/O stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import obstore
from obstore.store import LocalStore, ObjectStore, S3Store
from pydantic import BaseModel, ValidationError

from medbatch.spec.run_files import MANIFEST_FILE, PROGRESS_FILE, ManifestSummary, ProgressReport

if TYPE_CHECKING:
    from obstore.store import S3Config


# Secret keys (environment names, as the job reads them) -> obstore S3 options.
_S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "access_key_id",
    "AWS_SECRET_ACCESS_KEY": "secret_access_key",
    "AWS_SESSION_TOKEN": "session_token",
    "AWS_REGION": "region",
    "AWS_DEFAULT_REGION": "region",
    "AWS_ENDPOINT_URL": "endpoint",
    "AWS_ENDPOINT_URL_S3": "endpoint",
}


class RunFilesError(RuntimeError):
    """The output folder could not be read (the message names the file, never its content)."""


class RunFiles(BaseModel):
    """What the output folder says about the run (None where a file is not there yet)."""

    progress: ProgressReport | None = None
    outcome: ManifestSummary | None = None


def _store(output_uri: str, credentials: Mapping[str, str]) -> tuple[ObjectStore, str]:
    """The store holding ``output_uri`` and the folder's path inside it."""
    parsed = urlparse(output_uri)
    if parsed.scheme == "s3":
        config: S3Config = {}
        for key, option in _S3_KEYS.items():
            if credentials.get(key):
                config[option] = credentials[key]  # type: ignore[literal-required]
        endpoint = str(config.get("endpoint", ""))
        store = S3Store(
            parsed.netloc,
            config=config,
            client_options={"allow_http": endpoint.startswith("http://")},
        )
        return store, parsed.path.strip("/")
    if parsed.scheme in ("", "file"):
        return LocalStore(), (parsed.path if parsed.scheme else output_uri).lstrip("/")
    raise RunFilesError(f"the operator cannot read {parsed.scheme}:// output folders yet")


async def _read_json(store: ObjectStore, path: str) -> Any | None:
    try:
        result = await obstore.get_async(store, path)
        data = await result.bytes_async()
    except FileNotFoundError:
        return None
    except Exception as exc:  # obstore raises its own error types per backend
        raise RunFilesError(f"cannot read {path.rsplit('/', 1)[-1]}: {type(exc).__name__}") from None
    try:
        return json.loads(bytes(data))
    except ValueError:
        raise RunFilesError(f"{path.rsplit('/', 1)[-1]} is not JSON") from None


async def read_run_files(output_uri: str, credentials: Mapping[str, str]) -> RunFiles:
    """Read the job's progress and manifest from ``output_uri`` (either may be missing).

    Args:
        output_uri: the Corpus's ``spec.output.uri``.
        credentials: the credentials Secret's data (environment names to values); empty for none.
    """
    store, folder = _store(output_uri, credentials)
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
