"""No note text in logs, error columns, the manifest or the progress file, even on the error paths.

Every note carries a sentinel string that no recognizer touches; it must reach ``text_deid`` (proving the
text flowed through) and nowhere else.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from medbatch.jobs import JobConfig, run_job
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.spec import Corpus
from tests.cli_helpers import run_cli
from tests.corpora import corpus_yaml, notes, read_output, write_bytes

pytestmark = pytest.mark.ray  # runs jobs, Ray or vLLM in subprocesses

SENTINEL = "QUOKKA-SENTINEL-7731"
# In a file's name (names and record numbers often are): the output and manifest may name the file, the
# logs may not.
FILE_SENTINEL = "OKAPI-FILENAME-4410"


def write_sentinel_corpus(folder: Path) -> None:
    """Good notes and every kind of bad row, each holding the sentinel."""
    lines = [json.dumps({"id": n.id, "text": f"{n.text}\n{SENTINEL} observed."}) for n in notes(12)]
    lines += [
        json.dumps({"id": "empty", "text": "", "extra": SENTINEL}),
        json.dumps({"id": "wrongtype", "text": [SENTINEL]}),
        json.dumps({"text": f"no id {SENTINEL}"}),
        f'{{"id": "truncated", "text": "{SENTINEL}',
        f"{SENTINEL} not json at all",
    ]
    data = "\n".join(lines).encode() + b'\n{"id": "bytes", "text": "' + SENTINEL.encode() + b' \xff"}\n'
    write_bytes(str(folder / "notes.jsonl"), data)
    write_bytes(str(folder / "corrupt.jsonl"), b"\xff\xfe" + SENTINEL.encode() * 3)
    # A file the job skips whole (a link out of the source folder), named like a patient's file.
    outside = folder.parent / "elsewhere.jsonl"
    outside.write_text(json.dumps({"id": "x", "text": "not part of the corpus"}) + "\n")
    (folder / f"{FILE_SENTINEL}.jsonl").symlink_to(outside)


def scan(root: Path, sentinel: str = SENTINEL) -> list[str]:
    """Files under ``root`` whose bytes contain ``sentinel``."""
    return [str(p) for p in root.rglob("*") if p.is_file() and sentinel.encode() in p.read_bytes()]


def test_cli_run_leaks_no_note_text(tmp_path: Path) -> None:
    write_sentinel_corpus(tmp_path / "in")
    corpus = corpus_yaml(
        "sentinel", {"uri": "in/", "format": "jsonl", "idField": "id"}, limits={"shardSize": 5}
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(corpus))
    ray_tmp = Path(tempfile.mkdtemp(prefix="mb-leak-"))  # short: Ray's socket paths are limited
    try:
        result = run_cli(
            "run", "c.yaml", "--output", "out", "--log-format", "json", cwd=tmp_path, ray_tmp=str(ray_tmp)
        )
        leaked = scan(ray_tmp)
        named = scan(ray_tmp, FILE_SENTINEL)
        worker_logs = [p for p in ray_tmp.rglob("*.err") if b" done: " in p.read_bytes()]
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 3, result.stderr[-2000:]
    assert SENTINEL not in result.stdout + result.stderr
    assert FILE_SENTINEL not in result.stdout + result.stderr, "a source file's name is logged"
    assert worker_logs, "the scan covers the workers' logs"
    assert leaked == [], "Ray's session logs hold note text"
    assert named == [], "Ray's session logs hold a source file's name"
    rows = read_output(str(tmp_path / "out"))
    assert sum(SENTINEL in (r["text_deid"] or "") for r in rows) == 12
    assert all(SENTINEL not in (r["error"] or "") and SENTINEL not in r["id"] for r in rows)
    assert [p for p in scan(tmp_path / "out") if "/parts/" not in p] == [], (
        "manifest or progress hold note text"
    )


@pytest.mark.usefixtures("ray_cluster")
def test_engine_failures_leak_no_note_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_sentinel_corpus(tmp_path / "in")
    corpus = Corpus.model_validate(
        corpus_yaml("sentinel", {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "id"})
    )
    config = JobConfig(
        corpus="sentinel",
        spec=corpus.spec,
        source_uri=str(tmp_path / "in"),
        output_uri=str(tmp_path / "out"),
        engine=FakeEngineConfig(fail_marker=SENTINEL),
    )
    with caplog.at_level(logging.DEBUG):
        manifest = run_job(config, worker_cpus=0.5)
    assert manifest.records.failed == manifest.records.total
    assert SENTINEL not in caplog.text
    assert SENTINEL not in manifest.model_dump_json()
    rows = read_output(str(tmp_path / "out"))
    assert all(r["error"] and SENTINEL not in r["error"] for r in rows)
    assert SENTINEL not in (tmp_path / "out" / "_progress.json").read_text()
