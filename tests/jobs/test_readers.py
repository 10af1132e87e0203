"""Readers turn every source row into one record; unusable rows carry an error that quotes no content."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medbatch.jobs.sources.listing import count_rows, list_source_files, with_row_counts
from medbatch.jobs.sources.readers import RawRecord, read_slice
from medbatch.jobs.sources.slices import Slice
from medbatch.spec import SourceFormat, SourceSpec
from medbatch.storage import filesystem

SECRET = "ZEBRA-SENTINEL"


def listed(source: Path) -> dict[str, tuple[int | None, str | None]]:
    """relpath -> (records counted, error) of the JSONL files planning lists and counts in ``source``."""
    fs, base, files = list_source_files(str(source), SourceFormat.JSONL)
    return {f.relpath: (f.rows, f.error) for f in with_row_counts(fs, base, files, SourceFormat.JSONL)}


def read(path: Path, spec: SourceSpec) -> list[RawRecord]:
    fs, _ = filesystem(str(path))
    rows, _ = count_rows(fs, str(path), spec.format)
    return read_slice(
        fs, str(path.parent) + "/", spec, Slice(relpath=path.name, version="1", start=0, stop=rows)
    )


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
    records = read_slice(
        fs, str(tmp_path) + "/", spec, Slice(relpath="n.parquet", version="1", start=4, stop=8)
    )
    assert [(r.id, r.row, r.text) for r in records] == [(str(i), i, f"t{i}") for i in range(4, 8)]


def test_text_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    good, bad = tmp_path / "sub" / "n1.txt", tmp_path / "n2.txt"
    good.write_text("A note.")
    bad.write_bytes(b"\xc3\x28 broken")
    spec = SourceSpec(uri=str(tmp_path), format=SourceFormat.TEXT)
    fs, _ = filesystem(str(tmp_path))
    base = str(tmp_path) + "/"
    first = read_slice(fs, base, spec, Slice(relpath="sub/n1.txt", version="1", start=0, stop=1))
    second = read_slice(fs, base, spec, Slice(relpath="n2.txt", version="1", start=0, stop=1))
    assert [(r.id, r.text, r.error) for r in first + second] == [
        ("sub/n1", "A note.", None),
        ("n2", None, "text is not valid UTF-8 (at byte 0)"),
    ]


def test_bom_prefixed_csv_and_jsonl_are_read(tmp_path: Path) -> None:
    """Spreadsheet exports start with a byte-order mark; it once made every row "id field missing"."""
    bom = b"\xef\xbb\xbf"
    csv_path, jsonl_path = tmp_path / "n.csv", tmp_path / "n.jsonl"
    csv_path.write_bytes(bom + b"note_id,note_text\na,first note\n")
    jsonl_path.write_bytes(bom + b'{"note_id": "b", "note_text": "second note"}\n')
    for path, fmt in ((csv_path, SourceFormat.CSV), (jsonl_path, SourceFormat.JSONL)):
        spec = SourceSpec(uri=str(path), format=fmt, id_field="note_id", text_field="note_text")
        (record,) = read(path, spec)
        assert record.error is None
        assert record.id in ("a", "b")


def test_a_csv_field_of_any_size_is_read(tmp_path: Path) -> None:
    """The csv module's default limit is 128 KiB per field; a longer note made the whole file unreadable."""
    path = tmp_path / "n.csv"
    long_note = "Patient seen for follow-up. " * 20_000  # ~560 KB
    path.write_text(f'note_id,note_text\nlong,"{long_note}"\nshort,"ok"\n')
    spec = SourceSpec(uri=str(path), format=SourceFormat.CSV, id_field="note_id", text_field="note_text")
    records = read(path, spec)
    assert [(r.id, r.error) for r in records] == [("long", None), ("short", None)]
    assert records[0].text == long_note


def test_dictionary_encoded_and_large_string_parquet_columns_are_read(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    table = pa.table(
        {
            "note_id": pa.array(["a", "b"]).dictionary_encode(),
            "note_text": pa.array(["same text", "same text"]).dictionary_encode(),
        }
    )
    pq.write_table(table, path, use_dictionary=True)
    spec = SourceSpec(uri=str(path), format=SourceFormat.PARQUET, id_field="note_id", text_field="note_text")
    assert [(r.id, r.text, r.error) for r in read(path, spec)] == [
        ("a", "same text", None),
        ("b", "same text", None),
    ]
    pq.write_table(pa.table({"note_id": ["c"], "note_text": pa.array(["big"], pa.large_string())}), path)
    assert [(r.id, r.text) for r in read(path, spec)] == [("c", "big")]


def test_any_id_yields_one_safe_row(tmp_path: Path) -> None:
    """Invalid UTF-8 (CSV), lone surrogates (JSONL), floats, nulls, lists and very long ids: each costs its
    own row (an error and an id derived from file and row), never the shard."""
    jsonl = tmp_path / "ids.jsonl"
    jsonl.write_text(
        "\n".join(
            [
                '{"note_id": "\\ud800x", "note_text": "a"}',
                '{"note_id": 1.5, "note_text": "b"}',
                '{"note_id": null, "note_text": "c"}',
                '{"note_id": [1], "note_text": "d"}',
                '{"note_id": "' + "x" * 5000 + '", "note_text": "e"}',
                '{"note_id": true, "note_text": "f"}',
                '{"note_id": 7, "note_text": "g", "patient_id": "\\udc80"}',
            ]
        )
        + "\n"
    )
    spec = SourceSpec(
        uri=str(jsonl),
        format=SourceFormat.JSONL,
        id_field="note_id",
        text_field="note_text",
        patient_field="patient_id",
    )
    records = read(jsonl, spec)
    assert [r.id for r in records] == [f"ids.jsonl:{i}" for i in range(6)] + ["7"]
    assert all(r.error is not None and "note_id" in r.error for r in records[:6])
    assert (records[6].error, records[6].patient) == (None, None), "a bad patient id only loses the shift"
    for record in records:
        record.id.encode("utf-8")  # every id can be written to Parquet
        assert "x" * 100 not in (record.error or "")

    csv_path = tmp_path / "ids.csv"
    csv_path.write_bytes(b"note_id,note_text\n\xff\xfe,text\n")
    csv_spec = SourceSpec(
        uri=str(csv_path), format=SourceFormat.CSV, id_field="note_id", text_field="note_text"
    )
    (record,) = read(csv_path, csv_spec)
    assert (record.id, record.error) == (
        "ids.csv:0",
        "id field 'note_id' is not valid UTF-8 (id derived from file and row)",
    )


def test_a_line_too_deep_or_a_number_too_long_costs_one_row(tmp_path: Path) -> None:
    """Python's JSON parser raises RecursionError on deep nesting and ValueError on integers past 4,300
    digits; each such line is one error row and the other lines of the file are read."""
    path = tmp_path / "n.jsonl"
    deep = b'{"id": "deep", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    long_id = b'{"id": ' + b"7" * 5_000 + b', "text": "long id ' + SECRET.encode() + b'"}'
    long_value = b'{"id": "v", "text": "ok", "score": ' + b"9" * 5_000 + b"}"
    good = [b'{"id": "g%d", "text": "fine %d"}' % (i, i) for i in range(18)]
    path.write_bytes(b"\n".join([good[0], deep, *good[1:9], long_id, *good[9:], long_value]) + b"\n")
    records = read(path, SourceSpec(uri=str(path), format=SourceFormat.JSONL, id_field="id"))
    assert len(records) == 21
    errors = {r.id: r.error for r in records if r.error is not None}
    assert errors == {
        "n.jsonl:1": "line is nested too deeply to read",
        "n.jsonl:10": "line holds a number too long to read",
        "n.jsonl:20": "line holds a number too long to read",
    }
    assert all(SECRET not in (r.error or "") for r in records)
    assert [r.id for r in records if r.error is None] == [f"g{i}" for i in range(18)]


def test_compressed_files_are_read_like_plain_ones(tmp_path: Path) -> None:
    import bz2
    import gzip
    import lzma

    lines = b'{"id": "a", "text": "first"}\n{"id": "b", "text": "second"}\n'

    def zstd(data: bytes) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.CompressedOutputStream(sink, "zstd") as out:
            out.write(data)
        return bytes(sink.getvalue().to_pybytes())

    compressors = ((".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress), (".zst", zstd))
    for suffix, compress in compressors:
        path = tmp_path / f"n.jsonl{suffix}"
        path.write_bytes(compress(lines))
        records = read(path, SourceSpec(uri=str(path), format=SourceFormat.JSONL, id_field="id"))
        assert [(r.id, r.text, r.error) for r in records] == [("a", "first", None), ("b", "second", None)]
    text = tmp_path / "visit.txt.gz"
    text.write_bytes(gzip.compress(b"A short note."))
    records = read(text, SourceSpec(uri=str(text), format=SourceFormat.TEXT))
    assert [(r.id, r.text) for r in records] == [("visit", "A short note.")]


def test_compressed_data_under_a_plain_name_is_named_as_such(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "plain.jsonl").write_bytes(b'{"id": "a", "text": "fine"}\n')
    (tmp_path / "packed.jsonl").write_bytes(
        gzip.compress(b'{"id": "b", "text": "' + SECRET.encode() + b'"}\n')
    )
    (tmp_path / "more.jsonl.gz").write_bytes(gzip.compress(b'{"id": "c", "text": "fine"}\n'))
    assert listed(tmp_path) == {
        "more.jsonl.gz": (1, None),
        "packed.jsonl": (None, "file holds gz-compressed data; name it with .gz to have it read"),
        "plain.jsonl": (1, None),
    }


def test_a_link_out_of_the_source_is_listed_not_read(tmp_path: Path) -> None:
    source, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    source.mkdir()
    elsewhere.mkdir()
    (source / "a.jsonl").write_bytes(b'{"id": "a", "text": "fine"}\n')
    (elsewhere / "other.jsonl").write_bytes(b'{"id": "x", "text": "' + SECRET.encode() + b'"}\n')
    (source / "b.jsonl").symlink_to(elsewhere / "other.jsonl")
    (source / "c.jsonl").symlink_to(source / "a.jsonl")  # inside the source: read like any file
    assert listed(source) == {
        "a.jsonl": (1, None),
        "b.jsonl": (None, "a symbolic link to a file outside the source: not read"),
        "c.jsonl": (1, None),
    }


def test_an_output_reached_through_a_link_into_the_source_is_refused(tmp_path: Path) -> None:
    import pytest

    from medbatch.jobs import JobError
    from medbatch.jobs.config import job_config_for
    from medbatch.spec import Corpus
    from tests.corpora import corpus_yaml

    (tmp_path / "notes").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "notes")
    corpus = Corpus.model_validate(corpus_yaml("c", {"uri": "./notes/", "format": "jsonl"}))
    with pytest.raises(JobError, match="the output folder must not be the source, inside it"):
        job_config_for(corpus, tmp_path, output=str(tmp_path / "link" / "out"))
