"""Object storage access through fsspec: file://, plain paths, s3:// (s3fs) and gs:// (gcsfs if installed).

It sits below the note core and the batch job (model weights and notes are both read through it) and
depends on neither. Credentials and the S3 endpoint come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3), which is how the operator passes the Corpus's secret to the job.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem


class StorageError(RuntimeError):
    """Storage cannot be reached as configured (a missing filesystem package). The message is safe to show."""


def storage_options(uri: str) -> dict[str, Any]:
    """fsspec options for ``uri`` derived from the environment."""
    if uri.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {}


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem serving ``uri`` and the path within it (no scheme).

    Raises:
        StorageError: no filesystem implementation is installed for the scheme (gs:// needs gcsfs).
    """
    try:
        fs, path = url_to_fs(uri, **storage_options(uri))
    except ImportError:
        scheme = uri.split("://", 1)[0]
        package = {"gs": "gcsfs", "s3": "s3fs"}.get(scheme, "an fsspec implementation")
        raise StorageError(f"{scheme}:// needs the {package} package installed where the job runs") from None
    return fs, path


def write_atomic(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old content or the new, never a part of it.

    Local files are written under a hidden temporary name beside the target (readers of a Parquet folder
    skip names starting with a dot) and renamed into place (atomic on POSIX); object stores get one PUT (or one multipart upload), and an object appears whole or not at all.
    This is the only way the job writes a file it may later read back.
    """
    if isinstance(fs, LocalFileSystem):
        folder, name = path.rsplit("/", 1)
        fs.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            fs.pipe_file(tmp, data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        fs.pipe_file(path, data)


def join(base: str, *parts: str) -> str:
    """``base`` (a URI or path, with or without trailing slash) joined with relative ``parts``."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
