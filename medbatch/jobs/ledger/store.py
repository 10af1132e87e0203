"""The output folder's storage: paths under it, fresh listings, atomic writes and conditional commits.

Two files decide who writes the folder, and each is replaced by compare-and-swap: a writer reads the
file with its version and replaces it only if that version is still current, so of two writers that read
the same version exactly one commits. What "version" and "only if" mean per store:

- **Local disk** (and any POSIX mount): the version is the file's inode, size, mtime and ctime (a
  replacement is a new inode; no user tool sets ctime back). The compare and the rename into place run
  under an advisory lock (``flock``) on the output folder itself, which the kernel releases when a
  holder dies, so a killed run never leaves the folder locked. NFS needs ``flock`` support (Linux
  NFSv4 maps it onto byte-range locks).
- **S3** (and S3-compatible stores that implement conditional writes, as MinIO and Ceph do): the version
  is the object's ETag, taken from the same GET that reads it; the PUT carries ``If-Match`` (or
  ``If-None-Match: *`` for a file that did not exist), and the store refuses it with 412 if the object
  changed meanwhile (or 409 when two conditional PUTs race).
- **Anything else** (``gs://`` through gcsfs, other fsspec stores): no compare-and-swap is used; the
  write is unconditional, and ownership falls back to check-then-act (see ``lease``). A warning says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import fsspec
from fsspec.implementations.local import LocalFileSystem

from medbatch.storage import filesystem, join, write_atomic

log = logging.getLogger(__name__)

# S3 error codes of a conditional PUT that lost: the object changed (412), or another conditional write
# to the same key was in flight (409).
_LOST_CAS = {"PreconditionFailed", "ConditionalRequestConflict"}


@dataclass(frozen=True)
class Store:
    """An output folder: the filesystem serving it and its path within that filesystem."""

    fs: fsspec.AbstractFileSystem
    root: str

    @classmethod
    def at_uri(cls, uri: str) -> Store:
        """The store of an output URI (raises ``StorageError`` when its filesystem is not installed)."""
        fs, root = filesystem(uri)
        return cls(fs, root)

    def path(self, *parts: str) -> str:
        """The full path of ``parts`` (relative to the folder)."""
        return join(self.root, *parts)

    @cached_property
    def local(self) -> bool:
        """Whether the folder is on a local (POSIX) filesystem."""
        return isinstance(self.fs, LocalFileSystem)

    @cached_property
    def conditional(self) -> bool:
        """Whether commits are compare-and-swap here (local disk and S3), not check-then-act."""
        return self.local or "s3" in _protocols(self.fs)

    def listing(self, folder: str) -> list[str]:
        """File names directly under ``folder`` (relative), listed afresh: workers in other processes write
        there during a run, and an object-store client keeps the listing it took earlier."""
        path = self.path(folder)
        self.fs.invalidate_cache(path)
        if not self.fs.exists(path):
            return []
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)]

    def write(self, relpath: str, data: bytes) -> None:
        """Write a file atomically (see ``storage.write_atomic``)."""
        write_atomic(self.fs, self.path(relpath), data)

    def read(self, relpath: str) -> bytes | None:
        """A file's bytes; None when it does not exist."""
        return self.read_versioned(relpath)[0]

    def read_versioned(self, relpath: str) -> tuple[bytes | None, str | None]:
        """A file's bytes and the version they are, for ``put_if``; (None, None) when it does not exist.

        The version comes from the same open (``fstat`` of the descriptor read; the ETag of the GET, which
        s3fs pins with If-Match on every range it reads), so it is the version of exactly these bytes.
        """
        path = self.path(relpath)
        try:
            if self.local:
                with open(path, "rb") as handle:
                    return handle.read(), _local_version(os.fstat(handle.fileno()))
            self.fs.invalidate_cache(path)
            with self.fs.open(path, "rb") as handle:
                data = handle.read()
                details = getattr(handle, "details", {}) or {}
                return data, details.get("ETag") if self.conditional else None
        except FileNotFoundError:
            return None, None

    def put_if(self, relpath: str, data: bytes, version: str | None) -> bool:
        """Replace a file only if it is still at ``version`` (None: only if it does not exist); False when
        another writer got there first. Where the store has no compare-and-swap, the write is unconditional
        (see the module docstring)."""
        path = self.path(relpath)
        if self.local:
            with self._locked():
                try:
                    current: str | None = _local_version(os.stat(path))
                except FileNotFoundError:
                    current = None
                if current != version:
                    return False
                write_atomic(self.fs, path, data)
                return True
        if self.conditional:
            return self._s3_put_if(path, data, version)
        self.fs.pipe_file(path, data)
        return True

    def _s3_put_if(self, path: str, data: bytes, version: str | None) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, **condition)
        except OSError as exc:
            # s3fs turns the ClientError into an OSError; the cause keeps the store's error code.
            response = getattr(exc.__cause__, "response", None) or {}
            if response.get("Error", {}).get("Code") in _LOST_CAS:
                return False
            raise
        finally:
            self.fs.invalidate_cache(path)
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing the descriptor releases the lock


def _local_version(stat: os.stat_result) -> str:
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ctime_ns}"


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
