"""The corpus memory through a real job (local Ray, a local output folder): learned in the first pass,
used by the second, kept as keyed hashes for the next run, never written as clear text. Made-up notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from medbatch.jobs import JobConfig, run_job
from medbatch.jobs.config import fingerprint_from_env
from medbatch.jobs.memory_pass import MEMORY_FILE
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, read_output, write_jsonl

pytestmark = pytest.mark.usefixtures("ray_cluster")

CUED = [
    "Seen by Dr. Helen Zentwick today; transferred to Quorlake Hospital for cath.",
    "Discussed with Dr. Zentwick. Plan to return to Quorlake Hospital.",
]
BARE = "Zentwick aware of labs. Chest pain resolved."
LATER = "Zentwick to see in clinic. No new complaints."
CLEAR = ("zentwick", "quorlake")


def _config(folder: Path, strategy: str, **memory: Any) -> JobConfig:
    source = {"uri": str(folder / "in"), "format": "jsonl", "idField": "id", "textField": "text"}
    deid: dict[str, Any] = {"strategy": strategy, "memory": memory}
    corpus = Corpus.model_validate(
        corpus_yaml("memory", source, tasks={"deidentify": deid}, limits={"shardSize": 2})
    )
    return JobConfig(
        corpus="memory",
        spec=corpus.spec,
        source_uri=source["uri"],
        output_uri=str(folder / "out"),
        num_workers=2,
        key_fingerprint=fingerprint_from_env(corpus.spec),
    )


def _write(folder: Path, texts: list[str], start: int = 0) -> None:
    records = [{"id": f"n{start + i}", "text": t} for i, t in enumerate(texts)]
    write_jsonl(str(folder / "in" / f"batch-{start}.jsonl"), records)


def _text_deid(folder: Path) -> dict[str, str]:
    return {r["id"]: r["text_deid"] for r in read_output(str(folder / "out"))}


def test_a_name_cued_in_other_notes_is_removed_where_no_cue_is(tmp_path: Path) -> None:
    _write(tmp_path, [*CUED, BARE])
    manifest = run_job(_config(tmp_path, "mask"), worker_cpus=0.5)
    assert "Zentwick" not in _text_deid(tmp_path)["n2"]
    assert manifest.phi_from_memory == {"NAME": 1}
    assert manifest.memory_values > 0
    assert not (tmp_path / "out" / MEMORY_FILE).exists(), "no stable key (mask strategy): nothing is kept"


def test_memory_off_leaves_the_rules_alone(tmp_path: Path) -> None:
    _write(tmp_path, [*CUED, BARE])
    manifest = run_job(_config(tmp_path, "mask", enabled=False), worker_cpus=0.5)
    assert "Zentwick" in _text_deid(tmp_path)["n2"]
    assert manifest.phi_from_memory == {}


def test_a_later_run_masks_what_an_earlier_run_learned_and_no_file_holds_the_strings(tmp_path: Path) -> None:
    _write(tmp_path, CUED)
    run_job(_config(tmp_path, "surrogate"), worker_cpus=0.5)
    kept = json.loads((tmp_path / "out" / MEMORY_FILE).read_text())
    assert kept["counts"]["NAME"]

    _write(tmp_path, [LATER], start=10)  # no cue, and none of the earlier notes is run again
    second = run_job(_config(tmp_path, "surrogate"), worker_cpus=0.5)
    assert second.changes.notes_processed == 1
    assert "Zentwick" not in _text_deid(tmp_path)["n10"]
    assert second.phi_from_memory == {"NAME": 1}

    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            # Parquet is compressed: read its values, and every other file as it is.
            data = (
                json.dumps(pq.read_table(path).to_pylist(), default=str)
                if path.suffix == ".parquet"
                else path.read_text(errors="replace")
            ).lower()
            assert not any(word in data for word in CLEAR), f"{path.name} holds a clear value"
