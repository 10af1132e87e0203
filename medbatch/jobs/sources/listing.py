"""List the source's files with a version of each, and count the records of those a run must read."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fsspec
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from medbatch.jobs.errors import JobError
from medbatch.jobs.sources.compression import MisnamedCompressionError, read_bytes, without_compression
from medbatch.notes.errors import safe_error
from medbatch.spec import SourceFormat
from medbatch.storage import StorageError, filesystem

EXTENSIONS: dict[SourceFormat, tuple[str, ...]] = {
    SourceFormat.PARQUET: (".parquet", ".parq"),
    SourceFormat.JSONL: (".jsonl", ".ndjson", ".json"),
    SourceFormat.CSV: (".csv",),
    SourceFormat.TEXT: (".txt",),
}

# Listing and counting are I/O bound (one footer read or one GET per file).
_COUNT_THREADS = 16


class SourceFile(BaseModel):
    """One input file and its record count (None when not counted or unreadable; ``error`` says why)."""

    relpath: str = Field(description="Path relative to the source URI; stable across machines.")
    size: int
    version: str = Field(
        default="",
        description="Changes whenever the content may have: size with the ETag or checksum the store "
        "keeps, or with the modification time on a filesystem.",
    )
    rows: int | None = None
    bytes_read: int = Field(default=0, description="Bytes read to count the records.")
    error: str | None = None


# Object stores keep a content checksum (S3 ETag, GCS md5Hash or generation); filesystems a mtime.
_VERSION_FIELDS = ("ETag", "etag", "md5Hash", "generation", "mtime", "LastModified", "last_modified")


def file_version(info: dict[str, Any]) -> str:
    """A file's version from its listing entry (no read)."""
    size = int(info.get("size") or 0)
    for name in _VERSION_FIELDS:
        value = info.get(name)
        if value:
            return f"{size}:{str(value).strip(chr(34))}" + _local_change(info)
    return str(size)  # a store that keeps neither: only a change of size is seen (documented)


def _local_change(info: dict[str, Any]) -> str:
    """On a local or mounted filesystem, the inode and its change time too: ``cp -p``, ``rsync -a`` and
    ``touch -r`` give an edited file its old mtime, but the kernel sets the change time whatever is
    done to the file, and a file replaced by ``mv`` has another inode. A change of either costs a
    re-read of the file, never a rerun of its notes (their keys are unchanged)."""
    if "ino" not in info or "created" not in info:  # fsspec's local filesystem: created is st_ctime
        return ""
    return f":{info['created']}:{info['ino']}"


def _is_data_file(relpath: str, source_format: SourceFormat) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    if source_format is not SourceFormat.PARQUET:  # Parquet compresses inside the file
        name = without_compression(name)
    # Hidden files and markers such as _SUCCESS or our own _manifest.json are not data.
    return not name.startswith((".", "_")) and name.lower().endswith(EXTENSIONS[source_format])


def list_source_files(
    uri: str, source_format: SourceFormat
) -> tuple[fsspec.AbstractFileSystem, str, list[SourceFile]]:
    """Files of ``source_format`` at ``uri`` (a file or a folder, searched recursively), sorted by path.

    Raises:
        JobError: the source does not exist or holds no file of the format.
    """
    try:
        fs, root = filesystem(uri)
    except StorageError as exc:
        raise JobError(str(exc)) from None
    try:
        exists = fs.exists(root)
        is_dir = exists and fs.isdir(root)
    except OSError as exc:
        raise JobError(safe_error(f"cannot access source {uri}", exc)) from None
    if not exists:
        raise JobError(f"source {uri} does not exist; check source.uri and the storage credentials")
    if is_dir:
        found = fs.find(root, detail=True)
        base = root.rstrip("/") + "/"
        entries = [(path[len(base) :], info) for path, info in found.items()]
    else:
        base = root.rsplit("/", 1)[0] + "/" if "/" in root else ""
        entries = [(root[len(base) :], fs.info(root))]
    files = sorted(
        (
            SourceFile(
                relpath=rel,
                size=int(info.get("size") or 0),
                version=file_version(info),
                error=_outside_link(base + rel, root, info),
            )
            for rel, info in entries
            if _is_data_file(rel, source_format)
        ),
        key=lambda f: f.relpath,
    )
    if not files:
        wanted = ", ".join(EXTENSIONS[source_format])
        raise JobError(f"source {uri} holds no {source_format.value} files ({wanted}); check source.format")
    return fs, base, files


def _outside_link(path: str, root: str, info: dict[str, Any]) -> str | None:
    """Why a symbolic link is not read: it leads out of the source folder (a link to another patient
    population's files, or to the output, is not part of the corpus someone pointed us at)."""
    if not info.get("islink"):
        return None
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real == top or real.startswith(top.rstrip("/") + "/"):
        return None
    return "a symbolic link to a file outside the source: not read"


def count_rows(fs: fsspec.AbstractFileSystem, path: str, source_format: SourceFormat) -> tuple[int, int]:
    """Records in one file, counted the way the readers will read them, and the bytes read to count."""
    if source_format is SourceFormat.TEXT:
        return 1, 0
    if source_format is SourceFormat.PARQUET:
        with fs.open(path, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
            return int(metadata.num_rows), int(metadata.serialized_size)
    data = read_bytes(fs, path)
    if source_format is SourceFormat.JSONL:
        return sum(1 for line in data.removeprefix(BOM).split(b"\n") if line.strip()), len(data)
    return sum(1 for _ in csv_rows(data)), len(data)


# A note can be megabytes; the csv module refuses fields over 128 KiB by default, which made a whole file
# unreadable because of one long note. limits.maxNoteChars decides what is too long, per record.
csv.field_size_limit(2**31 - 1)
BOM = b"\xef\xbb\xbf"


def csv_rows(data: bytes) -> csv.DictReader[str]:
    """A CSV file's rows as dicts. A byte-order mark is dropped (spreadsheet exports write one; it would
    otherwise become part of the first column's name). Invalid UTF-8 survives decoding (as surrogates) so
    that counting and reading agree on rows; the reader turns such a field into an error row."""
    text = data.removeprefix(BOM).decode("utf-8", errors="surrogateescape")
    return csv.DictReader(io.StringIO(text, newline=""))


def with_row_counts(
    fs: fsspec.AbstractFileSystem, base: str, files: Iterable[SourceFile], source_format: SourceFormat
) -> list[SourceFile]:
    """``files`` with ``rows`` filled in, or ``error`` for files that cannot be read (e.g. corrupt Parquet)."""

    def one(file: SourceFile) -> SourceFile:
        if file.error is not None:  # known from the listing
            return file
        try:
            rows, read = count_rows(fs, base + file.relpath, source_format)
        except MisnamedCompressionError as exc:  # our own words, no content: said as they are
            return file.model_copy(update={"error": str(exc)})
        except Exception as exc:  # a corrupt file is reported, not fatal: the other files still run
            return file.model_copy(
                update={"error": safe_error(f"cannot read {source_format.value} file", exc)}
            )
        if rows == 0:  # listed, so that "no source file could be read" says which and why
            return file.model_copy(update={"rows": 0, "error": "file holds no records"})
        return file.model_copy(update={"rows": rows, "bytes_read": read})

    with ThreadPoolExecutor(_COUNT_THREADS) as pool:
        return list(pool.map(one, files))
