"""Kill the driver part-way, rerun: every record exactly once, committed shards untouched."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
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
        wait_for(lambda: len(committed(out)) >= 3 or driver.poll() is not None, timeout=180)
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    before = committed(out)
    assert 3 <= len(before) < 10, "the driver was killed part-way"

    manifest = run_job(config.model_copy(update={"engine": FakeEngineConfig()}), worker_cpus=0.5)

    after = committed(out)
    assert manifest.outcome is Outcome.SUCCEEDED
    assert manifest.shards_planned == 10
    assert manifest.shards_run == 10 - len(before)
    assert {name: after[name] for name in before} == before, "committed parts were not rewritten"
    ids = [r["id"] for r in read_output(str(out))]
    assert sorted(ids) == sorted(n.id for n in items)
    assert manifest.records.total == 40
    assert not (out / "parts" / "_tmp").exists()
