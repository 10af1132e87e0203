"""The real vLLM engine (CPU build) on a tiny random-weight Llama built by the test.

A random model answers junk. The pipeline must turn junk into well-formed rows that say what went wrong,
while the recognizers still remove structured PHI; with structured outputs on, answers must be valid JSON
and the note prefix must be served from the prefix cache for the second task of a note.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vllm")

from devtools.tiny_model import build_tiny_llama
from medbatch.jobs import JobConfig, Outcome, VllmEngineConfig, run_job
from medbatch.jobs.ledger.parts import OutputRow
from medbatch.notes.llm.prompts import PROMPT_VERSION
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, read_output, rows, write_bytes, write_jsonl

pytestmark = pytest.mark.ray  # runs jobs, Ray or vLLM in subprocesses

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def engine_config(model: Path | str, structured: bool) -> VllmEngineConfig:
    return VllmEngineConfig(
        model=str(model),
        max_model_len=2048,
        max_tokens=48,
        structured_outputs=structured,
        engine_kwargs={"enforce_eager": True},
    )


SENTINEL = "WOMBAT-SENTINEL-5511"


def test_pipeline_with_two_vllm_replicas_turns_junk_into_well_formed_rows(
    tiny_model: Path, tmp_path: Path, bucket: str, ray_logs: Path
) -> None:
    for file in tiny_model.iterdir():  # the replicas load the weights from object storage
        write_bytes(f"s3://{bucket}/models/tiny-llama/{file.name}", file.read_bytes())
    items = notes(8)
    records = rows(items)
    for record in records:
        record["note_text"] += f"\n{SENTINEL} noted.\n"
    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), records)
    source = {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("vllm", source, limits={"shardSize": 2}))
    config = JobConfig(
        corpus="vllm",
        spec=corpus.spec,
        source_uri=source["uri"],
        output_uri=str(tmp_path / "out"),
        engine=engine_config(f"s3://{bucket}/models/tiny-llama/", structured=False),
        num_workers=2,
    )
    manifest = run_job(config, worker_cpus=1.0)
    leaks = [p for p in ray_logs.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    assert leaks == [], "note text in Ray or vLLM logs"

    output = {r["id"]: OutputRow.model_validate(r) for r in read_output(str(tmp_path / "out"))}
    assert sorted(output) == sorted(n.id for n in items)
    assert manifest.outcome is Outcome.FAILED, "a random model's answers are all unusable"
    assert manifest.model == "tiny-llama"
    assert manifest.tokens_in > 0
    for note in items:
        row = output[note.id]
        assert row.model == "tiny-llama"
        assert row.prompt_version == PROMPT_VERSION
        assert row.tokens_in > 0
        assert row.tokens_out > 0
        assert row.error is not None
        assert row.error.startswith("deidentify: model answer unusable:")
        assert "(rule-based de-identification applied)" in row.error
        assert row.text_deid is not None, "the recognizers' de-identification is kept"
        assert SENTINEL in row.text_deid
        assert SENTINEL not in row.error
        structured = [v for t in ("MRN", "DATE", "PHONE", "EMAIL", "ZIP") for v in note.phi.get(t, [])]
        for value in structured:
            assert not re.search(rf"\b{re.escape(value)}\b", row.text_deid)


def test_structured_outputs_give_valid_json_and_tasks_share_the_cached_prefix(tiny_model: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.drivers.vllm_direct", str(tiny_model)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["errors"]) == 9  # three PHI requests, then NER and a summary for each note
    assert all(n > 0 for n in report["tokens_in"])
    for error in report["errors"]:
        if error is not None:  # the grammar holds; a random model's quotes and length do not
            assert "invalid JSON" not in error, error
    assert sum(report["tokens_cached"][3:]) > 0, "the system prompt and note are reused across tasks"
