"""Locations: local paths resolved against the YAML's folder, clear errors for missing filesystems."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from medbatch.jobs.config import resolve_location
from medbatch.storage import StorageError, filesystem, join


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path: Path) -> None:
    assert resolve_location("notes/", tmp_path) == f"{tmp_path}/notes/"
    assert resolve_location("../x.jsonl", tmp_path / "a") == str(tmp_path / "x.jsonl")
    assert resolve_location("s3://b/p/", tmp_path) == "s3://b/p/"
    assert resolve_location("/abs/p", tmp_path) == "/abs/p"


def test_join() -> None:
    assert join("s3://b/out/", "parts", "/x.parquet") == "s3://b/out/parts/x.parquet"


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_missing_filesystem_package_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match=r"gs:// needs the gcsfs package"):
        filesystem("gs://bucket/notes/")
