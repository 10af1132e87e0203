"""State files (_job.json, _progress.json, _manifest.json) can never be read half-written, and a damaged
one left by a killed run is said and repaired or refused safely, never a traceback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import fsspec
import pytest

from medbatch.jobs import JobConfig, JobError, Outcome, run_job
from medbatch.spec import Corpus
from medbatch.storage import read_json, write_json
from tests.corpora import corpus_yaml, notes, rows, write_jsonl


def test_a_reader_polling_during_writes_never_sees_a_partial_file(tmp_path: Path) -> None:
    """The operator polls _progress.json while the job rewrites it; before atomic writes a reader saw
    invalid JSON dozens of times in a few thousand reads."""
    fs = fsspec.filesystem("file")
    path = str(tmp_path / "_progress.json")
    big = {"records_done": 0, "padding": "x" * 200_000}  # large enough that a write takes several syscalls
    write_json(fs, path, big)
    done = threading.Event()
    bad: list[str] = []

    def poll() -> None:
        while not done.is_set():
            try:
                read_json(fs, path)
            except ValueError as exc:
                bad.append(str(exc))

    reader = threading.Thread(target=poll)
    reader.start()
    for i in range(300):
        write_json(fs, path, {**big, "records_done": i})
    done.set()
    reader.join()
    assert bad == []
    assert read_json(fs, path) == {**big, "records_done": 299}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_progress.json"], "no temporary file left"


@pytest.mark.parametrize("content", [b"", b'{"config_ha', b"[1, 2]"])
def test_damaged_state_files_are_named_not_tracebacks(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "_job.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"_job\.json is damaged"):
        read_json(fsspec.filesystem("file"), str(path))


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
