"""Kill the driver part-way, rerun: every record exactly once, committed shards untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from medbatch.jobs import JobConfig, Outcome, run_job
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, read_output, rows, write_jsonl
from tests.processes import kill_processes

ROOT = Path(__file__).resolve().parents[2]


def committed(out: Path) -> dict[str, tuple[int, str]]:
    """Committed parts with their mtime and content hash."""
    parts = sorted((out / "parts").glob("part-*.parquet")) if (out / "parts").exists() else []
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in parts}


def wait_for(condition: object, timeout: float) -> None:
    """Poll a condition (not a fixed sleep): returns as soon as it holds, fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def kill_part_way(config: JobConfig, tmp_path: Path, new_parts: int) -> None:
    """Run ``config`` in a driver process and kill it once ``new_parts`` more parts are committed."""
    out = Path(config.output_uri)
    start = len(committed(out))
    # Ray's socket paths must stay under 107 bytes, so its temp dir is short, not under tmp_path.
    ray_tmp = tempfile.mkdtemp(prefix="mb-ray-")
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "driver.log").open("wb")
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.drivers.slow_job", config.model_dump_json()],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: len(committed(out)) >= start + new_parts or driver.poll() is not None, timeout=180)
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
    finally:
        # The whole run dies, as when its pods are deleted: no worker of it commits a part afterwards.
        kill_processes(lambda cmdline: any(ray_tmp in part for part in cmdline), roots=[driver.pid])
        driver.wait()
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.usefixtures("ray_cluster")
def test_killed_run_resumes_exactly_once(tmp_path: Path) -> None:
    items = notes(40)
    source, out = tmp_path / "in" / "notes.jsonl", tmp_path / "out"
    write_jsonl(str(source), rows(items))
    corpus = Corpus.model_validate(
        corpus_yaml(
            "resume",
            {"uri": str(source.parent), "format": "jsonl", "idField": "note_id", "textField": "note_text"},
            limits={"shardSize": 4},
        )
    )
    config = JobConfig(
        corpus="resume",
        spec=corpus.spec,
        source_uri=str(source.parent),
        output_uri=str(out),
        engine=FakeEngineConfig(seconds_per_request=0.4),
        num_workers=1,
    )
    kill_part_way(config, tmp_path, new_parts=3)
    before = committed(out)
    assert 3 <= len(before) < 10, "the driver was killed part-way"

    calls = tmp_path / "calls.log"
    fast = config.model_copy(update={"engine": FakeEngineConfig(call_log=str(calls))})
    manifest = run_job(fast, worker_cpus=0.5)

    after = committed(out)
    assert manifest.outcome is Outcome.SUCCEEDED
    assert manifest.shards_planned == 10
    assert manifest.shards_run == 10 - len(before)
    assert {name: after[name] for name in before} == before, "committed parts were not rewritten"
    ids = [r["id"] for r in read_output(str(out))]
    assert sorted(ids) == sorted(n.id for n in items)
    assert manifest.records.total == 40
    assert calls.read_text().count("phi") == 40 - 4 * len(before), "no committed note ran again"
    # What the resumed run says it did: the stopped attempt's notes are done, not processed again.
    assert (manifest.changes.notes_processed, manifest.changes.notes_reused) == (
        40 - 4 * len(before),
        4 * len(before),
    )
    assert not (out / "parts" / "_tmp").exists()

    # The corpus grows and the next run is killed too: its resume still runs every new note once.
    grown = notes(40, start=40)
    write_jsonl(str(source), rows(items + grown))
    kill_part_way(config, tmp_path, new_parts=2)
    killed = {name for name in committed(out) if name not in after}
    assert len(killed) >= 2
    calls.write_text("")
    manifest = run_job(fast, worker_cpus=0.5)
    ids = [r["id"] for r in read_output(str(out))]
    assert sorted(ids) == sorted(n.id for n in items + grown)
    assert calls.read_text().count("phi") == 40 - 4 * len(killed)
    assert manifest.changes.rows_removed == 0
