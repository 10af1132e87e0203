"""Readers turn every source row into one record; unusable rows carry an error that quotes no content."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medbatch.jobs.planning import Slice
from medbatch.jobs.sources.listing import count_rows
from medbatch.jobs.sources.readers import RawRecord, read_slice
from medbatch.jobs.storage import filesystem
from medbatch.spec import SourceFormat, SourceSpec

SECRET = "ZEBRA-SENTINEL"


def read(path: Path, spec: SourceSpec) -> list[RawRecord]:
    fs, _ = filesystem(str(path))
    rows = count_rows(fs, str(path), spec.format)
    return read_slice(fs, str(path.parent) + "/", spec, Slice(relpath=path.name, size=0, start=0, stop=rows))


def test_jsonl_bad_lines_become_error_records(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "fine ' + SECRET.encode() + b'"}\n'
        b'{"id": "b", "text": "bad \xff\xfe bytes ' + SECRET.encode() + b'"}\n'
        b'{"id": "c", "text": "truncated ' + SECRET.encode() + b"\n"
        b'["not", "an", "object"]\n'
        b'{"id": "e"}\n'
        b'{"id": "f", "text": null}\n'
        b'{"id": "g", "text": "   "}\n'
        b'{"id": "h", "text": 42}\n'
        b"\n"
        b'{"text": "no id ' + SECRET.encode() + b'"}\n'
    )
    records = read(path, SourceSpec(uri=str(path), format=SourceFormat.JSONL, id_field="id"))
    assert [r.id for r in records] == [
        "a",
        "n.jsonl:1",
        "n.jsonl:2",
        "n.jsonl:3",
        "e",
        "f",
        "g",
        "h",
        "n.jsonl:8",
    ]
    assert [r.error for r in records] == [
        None,
        "line is not valid UTF-8 (at byte 25)",
        "line is not valid JSON (at column 21)",
        "line is a list, not a JSON object",
        "text field 'text' is missing",
        "text is empty",
        "text is empty",
        "text field 'text' is a number, not a string",
        "id field 'id' is missing or empty (id derived from file and row)",
    ]
    assert records[0].text is not None
    assert SECRET in records[0].text
    assert all(r.text is None for r in records[1:])
    assert all(SECRET not in (r.error or "") for r in records)


def test_csv_ragged_and_invalid_rows(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes(b'note_id,note_text\n1,"multi\nline note"\n2,"ok",extra\n3\n4,"bad \xff byte"\n5,""\n')
    spec = SourceSpec(uri=str(path), format=SourceFormat.CSV, id_field="note_id", text_field="note_text")
    records = read(path, spec)
    assert [(r.id, r.error) for r in records] == [
        ("1", None),
        ("n.csv:1", "row has a different number of columns than the header"),
        ("n.csv:2", "row has a different number of columns than the header"),
        ("4", "text is not valid UTF-8"),
        ("5", "text is empty"),
    ]
    assert records[0].text == "multi\nline note"


def test_parquet_missing_and_mistyped_columns(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"note_id": ["a", "b"], "body": ["x", "y"]}), path)
    spec = SourceSpec(uri=str(path), format=SourceFormat.PARQUET, id_field="note_id", text_field="note_text")
    assert [(r.id, r.error) for r in read(path, spec)] == [
        ("a", "text field 'note_text' is missing"),
        ("b", "text field 'note_text' is missing"),
    ]
    pq.write_table(pa.table({"note_id": [1, 2], "note_text": [3, 4]}), path)
    assert [(r.id, r.error) for r in read(path, spec)] == [
        ("n.parquet:0", "text column 'note_text' has type int64, not string"),
        ("n.parquet:1", "text column 'note_text' has type int64, not string"),
    ]
    pq.write_table(
        pa.table({"note_id": ["a", "b"], "note_text": pa.array([b"ok", b"\xff"], pa.binary())}), path
    )
    assert [(r.id, r.text, r.error) for r in read(path, spec)] == [
        ("a", "ok", None),
        ("b", None, "text is not valid UTF-8 (at byte 0)"),
    ]


def test_parquet_slices_read_only_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(
        pa.table({"id": [str(i) for i in range(10)], "text": [f"t{i}" for i in range(10)]}),
        path,
        row_group_size=3,
    )
    fs, _ = filesystem(str(path))
    spec = SourceSpec(uri=str(path), format=SourceFormat.PARQUET, id_field="id")
    records = read_slice(fs, str(tmp_path) + "/", spec, Slice(relpath="n.parquet", size=0, start=4, stop=8))
    assert [(r.id, r.row, r.text) for r in records] == [(str(i), i, f"t{i}") for i in range(4, 8)]


def test_text_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    good, bad = tmp_path / "sub" / "n1.txt", tmp_path / "n2.txt"
    good.write_text("A note.")
    bad.write_bytes(b"\xc3\x28 broken")
    spec = SourceSpec(uri=str(tmp_path), format=SourceFormat.TEXT)
    fs, _ = filesystem(str(tmp_path))
    base = str(tmp_path) + "/"
    first = read_slice(fs, base, spec, Slice(relpath="sub/n1.txt", size=7, start=0, stop=1))
    second = read_slice(fs, base, spec, Slice(relpath="n2.txt", size=8, start=0, stop=1))
    assert [(r.id, r.text, r.error) for r in first + second] == [
        ("sub/n1", "A note.", None),
        ("n2", None, "text is not valid UTF-8 (at byte 0)"),
    ]
