"""The job end to end on a local Ray cluster against moto's S3 server: real Parquet in and out."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pyarrow.parquet as pq
import pytest

from medbatch.jobs import JobConfig, JobError, Outcome, output_schema, run_job
from medbatch.jobs.ledger.parts import OutputRow
from medbatch.spec import Corpus
from medbatch.storage import filesystem
from tests.corpora import corpus_yaml, notes, read_output, rows, write_bytes, write_jsonl, write_parquet

pytestmark = pytest.mark.usefixtures("ray_cluster")


def config(name: str, source: dict[str, Any], output: str, **spec: Any) -> JobConfig:
    corpus = Corpus.model_validate(corpus_yaml(name, source, **spec))
    return JobConfig(
        corpus=name, spec=corpus.spec, source_uri=source["uri"], output_uri=output, num_workers=2
    )


def read_manifest(output: str) -> dict[str, Any]:
    fs, path = filesystem(output)
    with fs.open(path + "/_manifest.json") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def test_parquet_and_jsonl_in_parquet_out(bucket: str) -> None:
    items = notes(60)
    write_parquet(f"s3://{bucket}/in/a/part-0.parquet", rows(items[:35]), row_group_size=8)
    write_jsonl(f"s3://{bucket}/in/a/more.jsonl", rows(items[35:]))  # other format: ignored
    write_jsonl(f"s3://{bucket}/in/b/notes.jsonl", rows(items[35:]))
    source = {"idField": "note_id", "textField": "note_text", "patientField": "patient_id"}
    out_a, out_b = f"s3://{bucket}/out/a", f"s3://{bucket}/out/b"
    first = run_job(
        config(
            "pq",
            {"uri": f"s3://{bucket}/in/a/", "format": "parquet", **source},
            out_a,
            limits={"shardSize": 10},
        ),
        worker_cpus=0.5,
    )
    second = run_job(
        config(
            "js",
            {"uri": f"s3://{bucket}/in/b/", "format": "jsonl", **source},
            out_b,
            limits={"shardSize": 10},
        ),
        worker_cpus=0.5,
    )
    assert (first.outcome, second.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert (first.records.total, second.records.total) == (35, 25)
    assert (first.shards_planned, second.shards_planned) == (4, 3)

    output = read_output(out_a) + read_output(out_b)
    assert sorted(r["id"] for r in output) == sorted(n.id for n in items)
    by_id = {r["id"]: r for r in output}
    for note in items:
        row = OutputRow.model_validate(by_id[note.id])
        assert row.error is None
        assert row.text_deid is not None
        assert row.entities
        assert row.summary
        assert row.phi is None, "PHI offsets are off by default"
        assert row.model == "medbatch-baseline"
        assert row.prompt_version == "baseline-v2"
        for value in note.phi.get("MRN", []) + note.phi.get("PHONE", []) + note.phi.get("EMAIL", []):
            assert value not in row.text_deid
        assert not re.search(rf"\b{note.phi['NAME'][1]}\b", row.text_deid)

    fs, path = filesystem(out_a)
    part = sorted(fs.glob(path + "/parts/part-*.parquet"))[0]
    with fs.open(part, "rb") as handle:
        assert pq.read_schema(handle).remove_metadata() == output_schema()
    manifest = read_manifest(out_a)
    assert manifest["records"] == {"total": 35, "ok": 35, "failed": 0}
    assert len(manifest["parts"]) == 4
    assert manifest["phi_found"]["NAME"] > 35
    # Entities by type and assertion, summing to what the rows hold.
    counted = {
        (kind, assertion): n for kind, by in manifest["entities"].items() for assertion, n in by.items()
    }
    rows_a = [OutputRow.model_validate(r) for r in read_output(out_a)]
    held = Counter((e.type, e.assertion) for r in rows_a for e in r.entities or [])
    assert counted == dict(held)
    assert manifest["config_hash"] == first.config_hash
    assert not fs.exists(path + "/parts/_tmp")


def test_rerun_of_a_finished_job_recomputes_nothing(bucket: str) -> None:
    write_jsonl(f"s3://{bucket}/in/n.jsonl", rows(notes(12)))
    job = config(
        "again",
        {"uri": f"s3://{bucket}/in/", "format": "jsonl", "idField": "note_id", "textField": "note_text"},
        f"s3://{bucket}/out",
        limits={"shardSize": 5},
    )
    first = run_job(job, worker_cpus=0.5)
    again = run_job(job, worker_cpus=0.5)
    assert (first.shards_run, again.shards_run) == (3, 0)
    assert again.records == first.records
    assert len(read_output(f"s3://{bucket}/out")) == 12


def test_output_of_another_configuration_is_refused(bucket: str) -> None:
    write_jsonl(f"s3://{bucket}/in/n.jsonl", rows(notes(3)))
    source = {"uri": f"s3://{bucket}/in/", "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    run_job(config("one", source, f"s3://{bucket}/out"), worker_cpus=0.5)
    changed = config("one", source, f"s3://{bucket}/out", tasks={"deidentify": {"strategy": "redact"}})
    with pytest.raises(JobError, match="holds results of another configuration"):
        run_job(changed, worker_cpus=0.5)


def test_bad_input_becomes_error_rows_and_unreadable_files_are_listed(bucket: str) -> None:
    good = rows(notes(4))
    repeated = dict(good[0])  # the same note twice: one row
    same_id = {**good[1], "note_text": good[1]["note_text"] + " Addendum."}  # two notes, one id: two rows
    write_jsonl(f"s3://{bucket}/in/1-good.jsonl", [*good, repeated, same_id])
    write_bytes(
        f"s3://{bucket}/in/2-bad.jsonl",
        b'{"note_id": "x1", "note_text": null}\n{"note_id": "x2"}\n'
        b'{"note_id": "x3", "note_text": "bad \xff"}\nnot json\n',
    )
    write_bytes(
        f"s3://{bucket}/in/3-big.jsonl",
        json.dumps({"note_id": "big", "note_text": "Dr. Ann Lee saw aspirin use. " * 36_000}).encode(),
    )
    parquet_in = f"s3://{bucket}/pq/"
    write_parquet(parquet_in + "ok.parquet", good[:2])
    write_bytes(parquet_in + "corrupt.parquet", b"PAR1 this is not parquet")
    source = {"format": "jsonl", "idField": "note_id", "textField": "note_text"}
    manifest = run_job(
        config("bad", {"uri": f"s3://{bucket}/in/", **source}, f"s3://{bucket}/out"), worker_cpus=0.5
    )
    output = read_output(f"s3://{bucket}/out")
    assert manifest.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert manifest.records.total == 5 + 4 + 1 == len(output)
    assert (manifest.source_records, manifest.duplicate_records, manifest.duplicate_ids) == (11, 1, 1)
    by_id = Counter(r["id"] for r in output)
    assert (by_id[good[0]["note_id"]], by_id[good[1]["note_id"]]) == (1, 2)
    errors = {r["id"]: r["error"] for r in output if r["error"]}
    assert errors == {
        "x1": "text is empty",
        "x2": "text field 'note_text' is missing",
        "2-bad.jsonl:2": "line is not valid UTF-8 (at byte 36)",
        "2-bad.jsonl:3": "line is not valid JSON (at column 1)",
    }
    big = next(r for r in output if r["id"] == "big")
    assert big["error"] is None
    assert len(big["text_deid"]) > 1_000_000
    assert "Ann Lee" not in big["text_deid"]

    pq_manifest = run_job(
        config("pq", {"uri": parquet_in, **source, "format": "parquet"}, f"s3://{bucket}/out-pq"),
        worker_cpus=0.5,
    )
    assert pq_manifest.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert [(e.file, e.error) for e in pq_manifest.source_errors] == [
        ("corrupt.parquet", "cannot read parquet file (ArrowInvalid)")
    ]
    assert pq_manifest.records.total == 2


def test_missing_text_column_fails_the_job_with_a_reason(bucket: str) -> None:
    write_parquet(
        f"s3://{bucket}/in/n.parquet", [{"note_id": "a", "body": "x"}, {"note_id": "b", "body": "y"}]
    )
    manifest = run_job(
        config(
            "nocol",
            {
                "uri": f"s3://{bucket}/in/",
                "format": "parquet",
                "idField": "note_id",
                "textField": "note_text",
            },
            f"s3://{bucket}/out",
        ),
        worker_cpus=0.5,
    )
    assert manifest.outcome is Outcome.FAILED
    assert manifest.reason == "all 2 records failed: text field 'note_text' is missing (2)"
    assert [r["id"] for r in read_output(f"s3://{bucket}/out")] == ["a", "b"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://{bucket}/nothing-here/", "does not exist"),
        ("s3://{bucket}/wrong-format/", "holds no csv files"),
    ],
)
def test_unusable_source_is_a_clear_error(bucket: str, uri: str, message: str) -> None:
    write_jsonl(f"s3://{bucket}/wrong-format/n.jsonl", rows(notes(1)))
    with pytest.raises(JobError, match=message):
        run_job(config("src", {"uri": uri.format(bucket=bucket), "format": "csv"}, f"s3://{bucket}/out"))


def test_an_s3_output_indexes_the_parts_committed_during_the_run(bucket: str) -> None:
    """The driver listed parts/ while planning; the parts the workers commit after that must be in the
    index and the manifest (an S3 client caches listings)."""
    source = {"uri": f"s3://{bucket}/in/", "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    job = config("grow", source, f"s3://{bucket}/out", limits={"shardSize": 40})
    write_jsonl(f"s3://{bucket}/in/a.jsonl", rows(notes(120)))
    first = run_job(job, worker_cpus=0.5)
    write_jsonl(f"s3://{bucket}/in/b.jsonl", rows(notes(30, start=120)))
    second = run_job(job, worker_cpus=0.5)
    manifest = read_manifest(f"s3://{bucket}/out")
    fs, path = filesystem(f"s3://{bucket}/out")
    fs.invalidate_cache()
    on_s3 = {p.rsplit("/", 1)[-1] for p in fs.ls(path + "/parts", detail=False) if p.endswith(".parquet")}
    assert (first.records.total, second.records.total) == (120, 150)
    assert {p["file"].removeprefix("parts/") for p in manifest["parts"]} == on_s3
    assert len(on_s3) == 4
    index = pq.read_table(fs.open(path + "/_index.parquet", "rb"))
    assert index["part"].null_count == 0
    third = run_job(job, worker_cpus=0.5)
    assert (third.shards_run, third.changes.files_read) == (0, 0)
