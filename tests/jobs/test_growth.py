"""A growing, edited, shrinking corpus: after every rerun the output holds exactly one current row per
source note, and only new or changed notes reached the engine (counted by the engine itself)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from medbatch.jobs import JobConfig, Manifest, Outcome, run_job
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, rows

pytestmark = pytest.mark.usefixtures("ray_cluster")


def expected_notes(source: Path) -> set[tuple[str, str]]:
    """(id, SHA-256 of the text) of every note in the source, computed here independently."""
    found = set()
    for path in sorted(source.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            found.add((record["note_id"], hashlib.sha256(record["note_text"].encode()).hexdigest()))
    return found


class GrowingCorpus:
    """A JSONL corpus on disk, a config over it, and a count of the engine's calls."""

    def __init__(self, tmp_path: Path, departed_notes: str = "remove") -> None:
        self.source, self.out, self.calls = tmp_path / "in", tmp_path / "out", tmp_path / "calls.log"
        self.source.mkdir()
        spec = Corpus.model_validate(
            corpus_yaml(
                "growth",
                {"uri": str(self.source), "format": "jsonl", "idField": "note_id", "textField": "note_text"},
                limits={"shardSize": 4},
                output={"departedNotes": departed_notes},
            )
        ).spec
        self.config = JobConfig(
            corpus="growth",
            spec=spec,
            source_uri=str(self.source),
            output_uri=str(self.out),
            engine=FakeEngineConfig(call_log=str(self.calls)),
            num_workers=2,
        )

    def write(self, name: str, records: list[dict[str, Any]]) -> None:
        (self.source / name).write_text("".join(json.dumps(r) + "\n" for r in records))

    def lines(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.source / name).read_text().splitlines()]

    def run(self) -> tuple[Manifest, int]:
        """Run the job; the manifest and the notes the engine saw (one PHI request per short note)."""
        self.calls.write_text("")
        manifest = run_job(self.config, worker_cpus=0.5)
        return manifest, self.calls.read_text().splitlines().count("phi")

    def check_one_row_per_note(
        self, manifest: Manifest, kept: frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        """Exactly one row per note in the source, plus one per note in ``kept`` (departed, kept)."""
        table = ds.dataset(str(self.out / "parts"), format="parquet").to_table()
        got = list(zip(table["id"].to_pylist(), table["text_hash"].to_pylist(), strict=True))
        want = {(i, h[:32]) for i, h in expected_notes(self.source) | kept}
        assert len(got) == len(set(got)), "no note has two rows"
        assert set(got) == want, "every current note has its row and no other row is left"
        assert manifest.records.total == len(want)
        on_disk = {p.name for p in (self.out / "parts").glob("part-*.parquet")}
        assert {p.file.removeprefix("parts/") for p in manifest.parts} == on_disk
        assert not (self.out / "_state").exists()


def test_growth_edits_and_deletions_process_only_what_changed(tmp_path: Path) -> None:
    corpus = GrowingCorpus(tmp_path)
    first = rows(notes(10))
    corpus.write("b.jsonl", first)
    manifest, calls = corpus.run()
    assert (manifest.outcome, calls, manifest.changes.notes_processed) == (Outcome.SUCCEEDED, 10, 10)
    corpus.check_one_row_per_note(manifest)

    # Nothing changed: nothing is read, nothing runs.
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.files_read, manifest.changes.files_unchanged) == (0, 0, 1)
    corpus.check_one_row_per_note(manifest)

    # Appended notes: only they run (the file is read again; its old notes are recognized).
    corpus.write("b.jsonl", [*first, *rows(notes(3, start=10))])
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.notes_reused, manifest.changes.rows_removed) == (3, 10, 0)
    corpus.check_one_row_per_note(manifest)

    # A new file that sorts first.
    corpus.write("a.jsonl", rows(notes(2, start=20)))
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.files_read, manifest.changes.files_unchanged) == (2, 1, 1)
    corpus.check_one_row_per_note(manifest)

    # A note edited in place at the same byte size.
    records = corpus.lines("b.jsonl")
    before = (corpus.source / "b.jsonl").stat().st_size
    text = records[4]["note_text"]
    at = next(i for i, c in enumerate(text) if c in "aeiou")
    records[4]["note_text"] = text[:at] + "x" + text[at + 1 :]
    corpus.write("b.jsonl", records)
    assert (corpus.source / "b.jsonl").stat().st_size == before
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed) == (1, 1), "the edited note runs, its old row goes"
    corpus.check_one_row_per_note(manifest)

    # A note deleted, and a whole file deleted: their rows go, nothing runs.
    corpus.write("b.jsonl", records[:6] + records[7:])
    (corpus.source / "a.jsonl").unlink()
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed, manifest.records.total) == (0, 3, 12)
    corpus.check_one_row_per_note(manifest)


def test_a_note_repeated_across_new_files_gets_one_row(tmp_path: Path) -> None:
    corpus = GrowingCorpus(tmp_path)
    items = rows(notes(6))
    corpus.write("a.jsonl", items[:4])
    corpus.write("b.jsonl", items[2:])  # notes 2 and 3 in both files, in different shards
    manifest, _ = corpus.run()
    assert (manifest.source_records, manifest.duplicate_records) == (8, 2)
    corpus.check_one_row_per_note(manifest)

    # Notes move to another file: their rows are theirs still (same id and text), nothing runs again.
    (corpus.source / "a.jsonl").unlink()
    corpus.write("c.jsonl", items[:2])
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.notes_reused, manifest.changes.rows_removed) == (0, 2, 0)
    corpus.check_one_row_per_note(manifest)


def _stop_before_index(real: Any) -> Any:
    def stop(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("stopped before the index was written")

    return stop


def _stop_after_index(real: Any) -> Any:
    def stop(*args: Any) -> None:
        real(*args)
        raise RuntimeError("stopped after the index was written, before old parts were removed")

    return stop


@pytest.mark.parametrize(
    ("target", "wrap"),
    [
        ("commit_index", _stop_before_index),
        ("commit_index", _stop_after_index),
        ("clear_shard_states", _stop_after_index),
    ],
    ids=["parts-rewritten", "index-written", "old-parts-removed"],
)
def test_a_run_stopped_while_finishing_is_completed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, wrap: Any
) -> None:
    import medbatch.jobs.ledger.finish as finish

    corpus = GrowingCorpus(tmp_path)
    records = rows(notes(8))
    corpus.write("a.jsonl", records)
    corpus.run()
    records[3]["note_text"] += " Edited."
    corpus.write("a.jsonl", [*records, *rows(notes(2, start=8))])
    with monkeypatch.context() as patch:
        patch.setattr(finish, target, wrap(getattr(finish, target)))
        with pytest.raises(RuntimeError):
            corpus.run()
    manifest, calls = corpus.run()
    assert calls == 0, "the stopped run's notes are committed; none runs twice"
    corpus.check_one_row_per_note(manifest)


def test_a_damaged_index_costs_a_reread_not_a_rerun(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(6)))
    corpus.write("b.jsonl", rows(notes(3, start=6)))
    corpus.run()
    index = corpus.out / "_index.parquet"
    index.write_bytes(index.read_bytes()[:50])
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.files_read, manifest.changes.notes_reused) == (0, 2, 9)
    assert "_index.parquet is damaged" in caplog.text
    corpus.check_one_row_per_note(manifest)


def test_kept_departed_notes_stay_until_they_return(tmp_path: Path) -> None:
    """A landing folder emptied after each run (output.departedNotes: keep): rows accumulate, while an
    edited note still replaces its old row."""
    corpus = GrowingCorpus(tmp_path, departed_notes="keep")
    a, b = rows(notes(6)), rows(notes(3, start=6))
    corpus.write("a.jsonl", a)
    corpus.write("b.jsonl", b)
    corpus.run()
    before = expected_notes(corpus.source)

    edited_away = (a[0]["note_id"], hashlib.sha256(a[0]["note_text"].encode()).hexdigest())
    (corpus.source / "b.jsonl").unlink()
    a[0]["note_text"] += " Edited."
    corpus.write("a.jsonl", a[:5])
    gone = frozenset(before - expected_notes(corpus.source) - {edited_away})
    assert len(gone) == 4, "a5 and the three notes of b"
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed) == (1, 1), "the edit runs; only its old row goes"
    assert (manifest.departed_notes, manifest.source_records, manifest.records.total) == (4, 5, 9)
    corpus.check_one_row_per_note(manifest, kept=gone)

    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed, manifest.departed_notes) == (0, 0, 4)
    corpus.check_one_row_per_note(manifest, kept=gone)

    index = corpus.out / "_index.parquet"  # without the index, the parts still say what was kept
    index.write_bytes(index.read_bytes()[:50])
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed, manifest.departed_notes) == (0, 0, 4)
    corpus.check_one_row_per_note(manifest, kept=gone)

    corpus.write("b.jsonl", b)  # the notes come back: no longer departed, and not run again
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed, manifest.departed_notes) == (0, 0, 1)
    corpus.check_one_row_per_note(manifest, kept=frozenset(n for n in gone if n[0] == a[5]["note_id"]))


def test_a_damaged_shard_state_reruns_its_shard_without_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import medbatch.jobs.ledger.folder as folder

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(8)))
    with monkeypatch.context() as patch:
        patch.setattr(folder, "finish_run", _stop_before_index(None))
        with pytest.raises(RuntimeError):
            corpus.run()
    states = sorted((corpus.out / "_state" / "shards").glob("*.parquet"))
    assert len(states) == 2
    states[0].write_bytes(b"PAR1 damaged")
    manifest, calls = corpus.run()
    # the damaged shard's 4 notes are read again and found committed, the other shard's 4 were done by
    # the stopped attempt: all 8 already done, none processed
    assert (calls, manifest.shards_run, manifest.changes.notes_reused) == (0, 1, 8)
    assert manifest.changes.notes_processed == 0
    assert "is damaged (" in caplog.text
    corpus.check_one_row_per_note(manifest)


def test_a_rerun_retries_the_notes_the_engine_failed(tmp_path: Path) -> None:
    corpus = GrowingCorpus(tmp_path)
    outage = tmp_path / "outage"
    corpus.config = corpus.config.model_copy(
        update={"engine": FakeEngineConfig(call_log=str(corpus.calls), outage_file=str(outage))}
    )
    a, b = rows(notes(6)), rows(notes(3, start=6))
    corpus.write("a.jsonl", a)
    corpus.write("b.jsonl", b)
    corpus.run()

    outage.touch()  # the engine goes down while new notes arrive
    corpus.write("b.jsonl", [*b, *rows(notes(3, start=9))])
    manifest, calls = corpus.run()
    assert (calls, manifest.records.failed) == (3, 3)
    assert manifest.outcome is not Outcome.SUCCEEDED

    outage.unlink()
    manifest, calls = corpus.run()
    assert calls == 3, "only the failed notes run again"
    assert (manifest.changes.files_unchanged, manifest.changes.rows_removed) == (1, 3)
    assert (manifest.outcome, manifest.records.failed) == (Outcome.SUCCEEDED, 0)
    corpus.check_one_row_per_note(manifest)

    manifest, calls = corpus.run()
    assert (calls, manifest.changes.files_unchanged) == (0, 2), "nothing left to retry"


def test_a_run_superseded_by_a_newer_one_stops_without_finishing(tmp_path: Path) -> None:
    """Two runs on one folder (a second `medbatch run`, a RayJob retried while the old driver lives):
    the last to start owns it; the older one commits nothing more and does not fold the folder."""
    from medbatch.jobs import JobError
    from medbatch.jobs.ledger import OutputFolder

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(16)))

    def newer_run_starts(shards_done: int, *_: int) -> None:
        if shards_done == 1:
            OutputFolder(str(corpus.out)).take_over()

    with pytest.raises(JobError, match=r"another run started on output .* and owns it now"):
        run_job(corpus.config, worker_cpus=0.5, on_progress=newer_run_starts)
    assert not (corpus.out / "_index.parquet").exists(), "the superseded run did not finish"
    committed = len(list((corpus.out / "parts").glob("part-*.parquet")))
    assert committed >= 1

    manifest, calls = corpus.run()
    assert calls == 16 - 4 * committed, "the newer run uses what the older one committed"
    corpus.check_one_row_per_note(manifest)


def test_a_worker_of_a_superseded_run_commits_nothing(tmp_path: Path) -> None:
    from medbatch.jobs.ledger import OutputFolder
    from medbatch.jobs.planning import plan_shards
    from medbatch.jobs.sources.listing import list_source_files, with_row_counts
    from medbatch.jobs.worker import ShardReport, ShardWorker

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(4)))
    fs_in, base, listed = list_source_files(str(corpus.source), corpus.config.spec.source.format)
    [shard] = plan_shards(with_row_counts(fs_in, base, listed, corpus.config.spec.source.format), 4)
    output = OutputFolder(str(corpus.out))
    mine = output.take_over()
    worker = ShardWorker(corpus.config.model_dump_json(), base, lease=mine)
    newer = output.take_over()  # a newer run starts while the shard is being processed
    assert newer.generation == mine.generation + 1

    assert worker.run_shard(shard) == ShardReport(shard=shard.id, superseded=True)
    assert not (corpus.out / "parts").exists()
    assert not (corpus.out / "_state" / "shards").exists()


def test_notes_of_a_file_a_worker_could_not_read_are_read_by_the_next_run(tmp_path: Path) -> None:
    """A file that cannot be read while its shard runs (a failed GET, a file moved for a moment) is not
    settled: its error rows are retried, so the next run reads the file and every note gets its row."""
    from medbatch.jobs.planning import Shard, shard_id
    from medbatch.jobs.sources.listing import file_version
    from medbatch.jobs.sources.slices import Slice
    from medbatch.jobs.worker import ShardWorker
    from medbatch.storage import filesystem

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(6)))
    corpus.run()
    corpus.write("b.jsonl", rows(notes(4, start=6)))
    fs, path = filesystem(str(corpus.source / "b.jsonl"))
    slices = [Slice(relpath="b.jsonl", version=file_version(fs.info(path)), start=0, stop=4)]
    # The worker of a run that planned b.jsonl meets it moved away, and that run stops before finishing.
    hidden = corpus.source / "b.jsonl.moving"
    (corpus.source / "b.jsonl").rename(hidden)
    worker = ShardWorker(corpus.config.model_dump_json(), str(corpus.source) + "/")
    report = worker.run_shard(Shard(id=shard_id(slices), index=0, slices=slices))
    assert report.stats.failed == 4
    hidden.rename(corpus.source / "b.jsonl")

    manifest, calls = corpus.run()
    assert calls == 4, "the four notes of the unread file reach the engine"
    assert manifest.records.failed == 0
    corpus.check_one_row_per_note(manifest)


def test_a_file_emptied_in_place_removes_its_notes(tmp_path: Path) -> None:
    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(5)))
    corpus.write("b.jsonl", rows(notes(3, start=5)))
    corpus.run()
    (corpus.source / "b.jsonl").write_text("")  # `: > b.jsonl`: read, and found to hold nothing
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed) == (0, 3)
    assert manifest.source_records == 5
    corpus.check_one_row_per_note(manifest)


def test_a_compressed_file_beside_plain_ones_is_processed(tmp_path: Path) -> None:
    import gzip

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(4)))
    packed = "".join(json.dumps(r) + "\n" for r in rows(notes(3, start=4)))
    (corpus.source / "b.jsonl.gz").write_bytes(gzip.compress(packed.encode()))
    manifest, calls = corpus.run()
    assert (calls, manifest.records.total, manifest.records.failed) == (7, 7, 0)


def test_a_same_size_edit_that_keeps_the_old_mtime_is_processed(tmp_path: Path) -> None:
    """`cp -p`, `rsync -a` and `touch -r` put the old mtime back on an edited file."""
    import os

    corpus = GrowingCorpus(tmp_path)
    records = rows(notes(4))
    corpus.write("a.jsonl", records)
    corpus.run()
    path = corpus.source / "a.jsonl"
    before = path.stat()
    text = records[2]["note_text"]
    at = next(i for i, ch in enumerate(text) if ch.isascii() and ch.islower())
    records[2]["note_text"] = text[:at] + ("q" if text[at] != "q" else "z") + text[at + 1 :]  # same size
    corpus.write("a.jsonl", records)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    manifest, calls = corpus.run()
    assert (calls, manifest.changes.rows_removed) == (1, 1)
    corpus.check_one_row_per_note(manifest)


def test_a_read_that_fails_once_is_retried_in_the_worker(tmp_path: Path) -> None:
    """A throttled or failed GET that succeeds on the next attempt costs nothing: every note is read."""
    from medbatch.jobs.planning import Shard, shard_id
    from medbatch.jobs.sources.listing import file_version
    from medbatch.jobs.sources.slices import Slice
    from medbatch.jobs.worker import ShardWorker
    from medbatch.storage import filesystem

    corpus = GrowingCorpus(tmp_path)
    corpus.write("a.jsonl", rows(notes(3)))
    fs, path = filesystem(str(corpus.source / "a.jsonl"))
    slices = [Slice(relpath="a.jsonl", version=file_version(fs.info(path)), start=0, stop=3)]
    worker = ShardWorker(corpus.config.model_dump_json(), str(corpus.source) + "/")

    class OneFailure:
        """The worker's source filesystem, whose first read fails as a throttled GET would."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.failures = inner, 1

        def cat_file(self, path: str) -> bytes:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("throttled")
            data: bytes = self.inner.cat_file(path)
            return data

    worker.reader.fs = OneFailure(worker.reader.fs)
    report = worker.run_shard(Shard(id=shard_id(slices), index=0, slices=slices))
    assert (report.stats.records, report.stats.failed) == (3, 0)
