"""State files (_job.json, _progress.json, _manifest.json) can never be read half-written, and a damaged
one left by a killed run is said and repaired or refused safely, never a traceback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from medbatch.jobs import JobConfig, JobError, Outcome, run_job
from medbatch.jobs.ledger import OutputFolder
from medbatch.spec import Corpus
from medbatch.spec.run_files import PROGRESS_FILE, ProgressReport
from tests.corpora import corpus_yaml, notes, rows, write_jsonl


def test_a_reader_polling_during_writes_never_sees_a_partial_file(tmp_path: Path) -> None:
    """The operator polls _progress.json while the job rewrites it; before atomic writes a reader saw
    invalid JSON dozens of times in a few thousand reads."""
    output = OutputFolder(str(tmp_path))
    path = tmp_path / PROGRESS_FILE
    # Large enough that a write takes several syscalls.
    report = ProgressReport(records_done=0, updated_at="x" * 200_000)
    output.write_progress(report)
    done = threading.Event()
    bad: list[str] = []

    def poll() -> None:
        while not done.is_set():
            try:
                ProgressReport.model_validate_json(path.read_bytes())
            except ValueError as exc:
                bad.append(type(exc).__name__)

    reader = threading.Thread(target=poll)
    reader.start()
    for i in range(300):
        output.write_progress(report.model_copy(update={"records_done": i}))
    done.set()
    reader.join()
    assert bad == []
    assert ProgressReport.model_validate_json(path.read_bytes()).records_done == 299
    assert sorted(p.name for p in tmp_path.iterdir()) == [PROGRESS_FILE], "no temporary file left"


def _config(tmp_path: Path) -> JobConfig:
    source = tmp_path / "in" / "notes.jsonl"
    write_jsonl(str(source), rows(notes(6)))
    spec = {"uri": str(source.parent), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("state", spec, limits={"shardSize": 3}))
    return JobConfig(
        corpus="state",
        spec=corpus.spec,
        source_uri=spec["uri"],
        output_uri=str(tmp_path / "out"),
        num_workers=1,
    )


@pytest.mark.usefixtures("ray_cluster")
def test_a_run_killed_while_claiming_the_folder_is_completed_by_the_next(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "_job.json").write_bytes(b"")  # killed while writing it, before any part
    (out / "_progress.json").write_bytes(b'{"shards_do')  # and the progress file cut short
    manifest = run_job(config, worker_cpus=0.5)
    assert manifest.outcome is Outcome.SUCCEEDED
    assert manifest.records.total == 6
    assert json.loads((out / "_job.json").read_text())["config_hash"] == config.config_hash()
    assert json.loads((out / "_progress.json").read_text())["records_done"] == 6


@pytest.mark.usefixtures("ray_cluster")
def test_a_damaged_claim_over_committed_parts_stops_with_what_to_do(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run_job(config, worker_cpus=0.5)
    out = tmp_path / "out"
    (out / "_job.json").write_bytes(b'{"corp')
    with pytest.raises(JobError, match=r"_job\.json is damaged .* delete _job\.json if those parts"):
        run_job(config, worker_cpus=0.5)
    (out / "_job.json").unlink()
    again = run_job(config, worker_cpus=0.5)
    assert (again.records.total, again.shards_run) == (6, 0), "the committed parts are kept, not redone"
