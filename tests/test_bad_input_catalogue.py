"""The bad-input catalogue (docs/output-schema.md, "Bad input: what each gets"), end to end through the CLI.

Every file below holds one kind of bad (or awkward) input. One ``medbatch run`` per source format reads
all of that format's files; each case then checks the rows its own file got (id and error, in source
order) or the manifest's ``source_errors`` entry. The run's exit code is part of the contract: a job with
bad records finishes PartiallySucceeded (3), never crashes. Inputs that stop a job before it starts
(bad YAML, output inside the source, a source of only empty files) are the second table.

Every note's text carries a name no error message, log line or manifest may repeat.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.cli_helpers import run_cli
from tests.corpora import corpus_yaml, yaml_bomb

pytestmark = pytest.mark.ray  # runs jobs, Ray or vLLM in subprocesses

# A name in every note: it must reach no error, log line or manifest (text_deid masks it).
SECRET = "Quillon Oakhart"
TEXT = f"Seen by Dr. {SECRET} today; BP 120/80, plan unchanged."
MAX_NOTE_CHARS = 200_000
EXIT_PARTIAL, EXIT_INVALID, EXIT_FAILED = 3, 2, 1


@dataclass(frozen=True)
class Case:
    """One input file and what it must get: rows as (id, error fragment or None), or a source error."""

    name: str
    format: str
    data: bytes
    rows: list[tuple[str, str | None]] = field(default_factory=list)
    source_error: str | None = None

    @property
    def file(self) -> str:
        return f"{self.name}.{self.format}"

    def derived(self, row: int = 0) -> str:
        """The id a record gets when its own id is unusable."""
        return f"{self.file}:{row}"


def jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def note(note_id: Any, text: Any = TEXT, **extra: Any) -> dict[str, Any]:
    return {"note_id": note_id, "note_text": text, **extra}


def csv_bytes(*records: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([["note_id", "note_text"], *records])
    return buffer.getvalue().encode()


def parquet(ids: pa.Array, texts: pa.Array) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"note_id": ids, "note_text": texts}), buffer)
    return buffer.getvalue()


def _cases() -> list[Case]:
    bad_id = "is missing or empty (id derived from file and row)"
    return [
        Case("empty-file", "jsonl", b"", source_error="file holds no records"),
        Case("blank-lines", "jsonl", b"\n \n\n", source_error="file holds no records"),
        Case("bom", "jsonl", b"\xef\xbb\xbf" + jsonl(note("bom-1")), [("bom-1", None)]),
        Case("id-null", "jsonl", jsonl(note(None)), [("id-null.jsonl:0", bad_id)]),
        Case("id-empty", "jsonl", jsonl(note("")), [("id-empty.jsonl:0", bad_id)]),
        Case("id-float", "jsonl", jsonl(note(2.5)), [("id-float.jsonl:0", "is a number, not a string")]),
        Case("id-bool", "jsonl", jsonl(note(True)), [("id-bool.jsonl:0", "is a boolean")]),
        Case("id-list", "jsonl", jsonl(note([1, 2])), [("id-list.jsonl:0", "is a list")]),
        Case("id-object", "jsonl", jsonl(note({"a": 1})), [("id-object.jsonl:0", "is an object")]),
        Case(
            "id-surrogate",
            "jsonl",
            b'{"note_id": "\\ud800", "note_text": "' + TEXT.encode() + b'"}\n',
            [("id-surrogate.jsonl:0", "is not valid UTF-8")],
        ),
        Case("id-long", "jsonl", jsonl(note("x" * 1025)), [("id-long.jsonl:0", "is over 1024 characters")]),
        Case("id-integer", "jsonl", jsonl(note(17)), [("17", None)]),
        Case(
            "line-invalid-utf8",
            "jsonl",
            b'{"note_id": "u-1", "note_text": "Seen \xff today."}\n',
            [("line-invalid-utf8.jsonl:0", "line is not valid UTF-8")],
        ),
        Case("line-not-json", "jsonl", b"{not json\n", [("line-not-json.jsonl:0", "line is not valid JSON")]),
        Case("line-not-object", "jsonl", b"[1, 2]\n", [("line-not-object.jsonl:0", "is a list, not a JSON")]),
        Case(
            "line-too-deep",
            "jsonl",
            b'{"note_id": "deep", "note_text": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}\n"
            + jsonl(note("deep-ok")),
            [("line-too-deep.jsonl:0", "line is nested too deeply to read"), ("deep-ok", None)],
        ),
        Case(
            "line-huge-number",
            "jsonl",
            b'{"note_id": ' + b"7" * 5_000 + b', "note_text": "x"}\n' + jsonl(note("huge-ok")),
            [("line-huge-number.jsonl:0", "line holds a number too long to read"), ("huge-ok", None)],
        ),
        Case(
            "gzip-under-plain-name",
            "jsonl",
            gzip.compress(jsonl(note("g-1"))),
            source_error="file holds gz-compressed data; name it with .gz to have it read",
        ),
        Case(
            "text-missing", "jsonl", jsonl({"note_id": "t-1"}), [("t-1", "text field 'note_text' is missing")]
        ),
        Case("text-number", "jsonl", jsonl(note("t-2", 42)), [("t-2", "is a number, not a string")]),
        Case("text-empty", "jsonl", jsonl(note("t-3", "")), [("t-3", "text is empty")]),
        Case("text-whitespace", "jsonl", jsonl(note("t-4", " \n\t ")), [("t-4", "text is empty")]),
        Case(
            "text-surrogate",
            "jsonl",
            b'{"note_id": "t-5", "note_text": "Seen \\udc00 today."}\n',
            [("t-5", "text is not valid UTF-8")],
        ),
        Case(
            "text-over-limit",
            "jsonl",
            jsonl(note("t-6", "a" * (MAX_NOTE_CHARS + 1))),
            [("t-6", f"over limits.maxNoteChars ({MAX_NOTE_CHARS})")],
        ),
        Case("patient-id-list", "jsonl", jsonl(note("p-1", patient_id=[1])), [("p-1", None)]),
        Case("repeated-note", "jsonl", jsonl(note("r-1"), note("r-1")), [("r-1", None)]),
        Case(
            "same-id-other-text",
            "jsonl",
            jsonl(note("s-1"), note("s-1", TEXT + " Addendum.")),
            [("s-1", None), ("s-1", None)],
        ),
        Case("csv-bom", "csv", b"\xef\xbb\xbf" + csv_bytes(["c-1", TEXT]), [("c-1", None)]),
        Case("csv-huge-field", "csv", csv_bytes(["c-2", TEXT + " ok" * 50_000]), [("c-2", None)]),
        Case(
            "csv-id-invalid-utf8",
            "csv",
            b'note_id,note_text\n\xff\xfe,"' + TEXT.encode() + b'"\n',
            [("csv-id-invalid-utf8.csv:0", "is not valid UTF-8")],
        ),
        Case(
            "csv-text-invalid-utf8",
            "csv",
            b"note_id,note_text\nc-3,Seen \xff today.\n",
            [("c-3", "text is not valid UTF-8")],
        ),
        Case(
            "csv-ragged",
            "csv",
            csv_bytes(["c-4", TEXT, "extra"], ["c-5"]),
            [("csv-ragged.csv:0", "different number of columns"), ("csv-ragged.csv:1", "different number")],
        ),
        Case(
            "pq-dictionary",
            "parquet",
            parquet(pa.array(["d-1"]).dictionary_encode(), pa.array([TEXT]).dictionary_encode()),
            [("d-1", None)],
        ),
        Case(
            "pq-large-string",
            "parquet",
            parquet(pa.array(["l-1"], pa.large_string()), pa.array([TEXT], pa.large_string())),
            [("l-1", None)],
        ),
        Case(
            "pq-float-id",
            "parquet",
            parquet(pa.array([2.5]), pa.array([TEXT])),
            [("pq-float-id.parquet:0", "is a number")],
        ),
        Case(
            "pq-null-id",
            "parquet",
            parquet(pa.array([None], pa.string()), pa.array([TEXT])),
            [("pq-null-id.parquet:0", bad_id)],
        ),
        Case(
            "pq-text-int",
            "parquet",
            parquet(pa.array(["i-1"]), pa.array([7])),
            [("pq-text-int.parquet:0", "has type int64, not string")],
        ),
        Case(
            "pq-text-binary",
            "parquet",
            parquet(pa.array(["b-1", "b-2"]), pa.array([TEXT.encode(), b"Seen \xff"], pa.binary())),
            [("b-1", None), ("b-2", "text is not valid UTF-8")],
        ),
        Case("pq-corrupt", "parquet", b"PAR1 not really parquet", source_error="cannot read parquet file"),
    ]


CASES = _cases()


@dataclass
class FormatRun:
    """One ``medbatch run`` over every case file of one format."""

    exit_code: int
    stdout: str
    stderr: str
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]


class Runs:
    """Runs each format once, on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: dict[str, FormatRun] = {}

    def __call__(self, fmt: str) -> FormatRun:
        if fmt not in self.done:
            self.done[fmt] = self._run(fmt)
        return self.done[fmt]

    def _run(self, fmt: str) -> FormatRun:
        folder = self.root / fmt
        source = folder / "in"
        source.mkdir(parents=True)
        for case in CASES:
            if case.format == fmt:
                (source / case.file).write_bytes(case.data)
        spec = {"uri": "in/", "format": fmt, "idField": "note_id", "textField": "note_text"}
        corpus = corpus_yaml(f"catalogue-{fmt}", spec, limits={"maxNoteChars": MAX_NOTE_CHARS})
        (folder / "c.yaml").write_text(yaml.safe_dump(corpus))
        result = run_cli("run", "c.yaml", "--output", "out", "--num-cpus", "2", cwd=folder)
        out = folder / "out"
        manifest = (
            json.loads((out / "_manifest.json").read_text()) if (out / "_manifest.json").exists() else {}
        )
        table = pq.read_table(out / "parts") if (out / "parts").exists() else pa.table({})
        return FormatRun(result.returncode, result.stdout, result.stderr, manifest, table.to_pylist())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("catalogue"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_input_costs_its_own_row_or_source_error(runs: Runs, case: Case) -> None:
    run = runs(case.format)
    assert run.exit_code == EXIT_PARTIAL, run.stderr[-3000:]
    got = sorted((r["source_row"], r["id"], r["error"]) for r in run.rows if r["source_file"] == case.file)
    assert len(got) == len(case.rows), got
    for (_, got_id, got_error), (want_id, want_error) in zip(got, case.rows, strict=True):
        assert got_id == want_id
        if want_error is None:
            assert got_error is None
        else:
            assert got_error is not None
            assert want_error in got_error
    errors = {e["file"]: e["error"] for e in run.manifest["source_errors"]}
    if case.source_error is None:
        assert case.file not in errors
    else:
        assert case.source_error in errors[case.file]


@pytest.mark.parametrize("fmt", sorted({c.format for c in CASES}))
def test_no_row_is_lost_and_nothing_echoes_the_notes(runs: Runs, fmt: str) -> None:
    run = runs(fmt)
    cases = [c for c in CASES if c.format == fmt]
    files_with_rows = {c.file for c in cases if c.rows}
    assert {r["source_file"] for r in run.rows} == files_with_rows
    assert run.manifest["records"]["total"] == len(run.rows) == sum(len(c.rows) for c in cases)
    assert run.manifest["records"]["failed"] == sum(1 for c in cases for _, e in c.rows if e is not None)
    for r in run.rows:
        assert SECRET not in (r["text_deid"] or ""), "the note was de-identified"
        assert SECRET not in (r["error"] or "")
    everything = run.stdout + run.stderr + json.dumps(run.manifest)
    assert SECRET not in everything
    assert "Traceback" not in everything


def test_repeated_notes_share_a_row_and_other_texts_do_not(runs: Runs) -> None:
    manifest = runs("jsonl").manifest
    assert manifest["duplicate_records"] == 1  # repeated-note's second line
    assert manifest["duplicate_ids"] == 1  # s-1: two texts, two rows


def _write_yaml(folder: Path, text: str) -> Path:
    path = folder / "c.yaml"
    path.write_text(text)
    return path


def _corpus_text(source: str, output: str | None = None) -> str:
    corpus = corpus_yaml("refused", {"uri": source, "format": "jsonl"})
    if output is not None:
        corpus["spec"]["output"] = {"uri": output}
    return yaml.safe_dump(corpus)


# (name, command, YAML text, files to create under the folder, exit code, message fragment)
REFUSALS: list[tuple[str, str, str, dict[str, bytes], int, str]] = [
    ("yaml-bomb", "validate", yaml_bomb(), {}, EXIT_INVALID, "more than 16 YAML aliases"),
    (
        "duplicate-key",
        "validate",
        _corpus_text("in/") + "kind: Corpus\n",
        {},
        EXIT_INVALID,
        "duplicate key at line",
    ),
    ("oversized-yaml", "validate", "# " + "x" * 1_000_001 + "\n", {}, EXIT_INVALID, "over"),
    (
        "output-inside-source",
        "validate",
        _corpus_text("in/", "in//./results/"),
        {},
        EXIT_INVALID,
        "output.uri must not be source.uri, inside it or contain it",
    ),
    (
        "output-is-source-via-dotdot",
        "run",
        _corpus_text("in/", "x/../in"),
        {"in/a.jsonl": jsonl(note("a-1"))},
        EXIT_INVALID,
        "output.uri must not be source.uri, inside it or contain it",
    ),
    (
        "only-empty-files",
        "run",
        _corpus_text("in/", "out/"),
        {"in/a.jsonl": b"", "in/b.jsonl": b"\n"},
        EXIT_FAILED,
        "no source file could be read",
    ),
]


@pytest.mark.parametrize(
    ("command", "text", "files", "exit_code", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_inputs_that_stop_a_job_say_why(
    tmp_path: Path, command: str, text: str, files: dict[str, bytes], exit_code: int, message: str
) -> None:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    path = _write_yaml(tmp_path, text)
    result = run_cli(command, str(path), cwd=tmp_path, timeout=120)
    assert result.returncode == exit_code, result.stdout[-2000:] + result.stderr[-2000:]
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
