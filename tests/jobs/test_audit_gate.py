"""The leak audit's release gate through a real job (local Ray, a local output folder): a note over the
gate is held in its row, the run ends PartiallySucceeded, and the manifest counts suspects, never
strings. Made-up notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medbatch.jobs import JobConfig, run_job
from medbatch.spec import Corpus
from medbatch.spec.run_files import MANIFEST_FILE, Outcome
from tests.corpora import corpus_yaml, read_output, write_jsonl

pytestmark = pytest.mark.usefixtures("ray_cluster")

# Only names are removed (tasks.deidentify.types), so the date of the first note stays: a suspect.
NOTES = [
    {"id": "kept-date", "text": "Seen by Dr. Quenby on 3/14/2024 for follow up."},
    {"id": "clean", "text": "Seen by Dr. Quenby for follow up. Chest pain resolved."},
]


def _config(folder: Path, audit: dict[str, Any]) -> JobConfig:
    source = {"uri": str(folder / "in"), "format": "jsonl", "idField": "id", "textField": "text"}
    tasks = {"deidentify": {"strategy": "mask", "types": ["NAME"], "audit": audit}}
    corpus = Corpus.model_validate(corpus_yaml("gate", source, tasks=tasks))
    return JobConfig(
        corpus="gate",
        spec=corpus.spec,
        source_uri=source["uri"],
        output_uri=str(folder / "out"),
        num_workers=1,
    )


def test_a_note_over_the_gate_is_held_and_the_run_is_partial(tmp_path: Path) -> None:
    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), NOTES)
    manifest = run_job(_config(tmp_path, {"maxSuspectRate": 0}), worker_cpus=0.5)

    rows = {r["id"]: r for r in read_output(str(tmp_path / "out"))}
    assert rows["kept-date"]["audit"]["held"] is True
    assert rows["kept-date"]["audit"]["by_type"] == [{"type": "DATE", "count": 1}]
    assert rows["clean"]["audit"]["held"] is False
    assert rows["clean"]["error"] is None
    assert manifest.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert manifest.reason is not None
    assert "leak audit" in manifest.reason
    assert manifest.audit is not None
    assert (manifest.audit.notes_audited, manifest.audit.notes_held) == (2, 1)
    assert manifest.audit.suspects == {"DATE": 1}
    assert "3/14" not in (tmp_path / "out" / MANIFEST_FILE).read_text()


def test_without_a_gate_the_audit_counts_and_the_run_succeeds(tmp_path: Path) -> None:
    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), NOTES)
    manifest = run_job(_config(tmp_path, {}), worker_cpus=0.5)
    assert manifest.outcome is Outcome.SUCCEEDED
    assert manifest.audit is not None
    assert manifest.audit.suspects == {"DATE": 1}
    assert manifest.audit.notes_held == 0
