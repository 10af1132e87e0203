"""Compressed source files: ``notes.jsonl.gz``, ``notes.csv.bz2``, ``note.txt.xz``, ``notes.jsonl.zst``
are read like the uncompressed file; compressed data under an uncompressed name is reported as such, not
as bad UTF-8."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable

import fsspec
import pyarrow as pa


def _zstd(data: bytes) -> bytes:
    """Zstandard through pyarrow's codec (no stdlib module before Python 3.14)."""
    return bytes(pa.input_stream(pa.py_buffer(data), compression="zstd").read())


_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".xz": lzma.decompress,
    ".zst": _zstd,
}
# What each format's data starts with, to name it when it hides under a plain name.
_MAGIC = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\xfd7zXZ\x00": ".xz", b"\x28\xb5\x2f\xfd": ".zst"}


class MisnamedCompressionError(ValueError):
    """Compressed data in a file whose name says it is not compressed; the message quotes no content."""


def compression_suffix(relpath: str) -> str:
    """The compression suffix of a file name (``.gz``, ``.bz2``, ``.xz``, ``.zst``), or ''."""
    lower = relpath.lower()
    return next((suffix for suffix in _DECOMPRESS if lower.endswith(suffix)), "")


def without_compression(relpath: str) -> str:
    """The file's name as if uncompressed: ``a/notes.jsonl.gz`` -> ``a/notes.jsonl``."""
    return relpath[: len(relpath) - len(compression_suffix(relpath))]


def read_bytes(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    """A source file's bytes, decompressed when its name says so.

    Raises:
        MisnamedCompressionError: the data is compressed but the name does not say so.
    """
    data: bytes = fs.cat_file(path)
    suffix = compression_suffix(path)
    if suffix:
        return _DECOMPRESS[suffix](data)
    for magic, named in _MAGIC.items():
        if data.startswith(magic):
            raise MisnamedCompressionError(
                f"file holds {named.lstrip('.')}-compressed data; name it with {named} to have it read"
            )
    return data
