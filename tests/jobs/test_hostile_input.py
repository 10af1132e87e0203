"""Hostile input end to end: nothing a source holds stops a job; each problem costs its own row or is
listed in the manifest's source_errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medbatch.jobs import JobConfig, Outcome, run_job
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, rows, write_jsonl

pytestmark = pytest.mark.usefixtures("ray_cluster")


def config(source: Path, out: Path) -> JobConfig:
    spec = {"uri": str(source), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("hostile", spec, limits={"shardSize": 4}))
    return JobConfig(
        corpus="hostile", spec=corpus.spec, source_uri=str(source), output_uri=str(out), num_workers=1
    )


def test_bad_ids_and_empty_files_never_stop_the_job(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_jsonl(str(source / "b-notes.jsonl"), rows(notes(6)))
    (source / "a-empty.jsonl").write_bytes(b"")
    (source / "c-bad-ids.jsonl").write_text(
        '\ufeff{"note_id": "\\ud800", "note_text": "Seen today."}\n{"note_id": 2.5, "note_text": "Seen."}\n'
    )
    manifest = run_job(config(source, tmp_path / "out"), worker_cpus=0.5)
    assert manifest.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert (manifest.records.total, manifest.records.failed) == (8, 2)
    assert [(e.file, e.error) for e in manifest.source_errors] == [("a-empty.jsonl", "file holds no records")]
    table = pq.read_table(tmp_path / "out" / "parts")
    ids = table.column("id").to_pylist()
    assert "c-bad-ids.jsonl:0" in ids
    assert "c-bad-ids.jsonl:1" in ids


def test_a_source_of_only_empty_files_says_which(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "one.jsonl").write_bytes(b"")
    (source / "two.jsonl").write_bytes(b"\n\n")
    manifest = run_job(config(source, tmp_path / "out"), worker_cpus=0.5)
    assert manifest.outcome is Outcome.FAILED
    assert manifest.reason == "no source file could be read"
    assert [e.file for e in manifest.source_errors] == ["one.jsonl", "two.jsonl"]
