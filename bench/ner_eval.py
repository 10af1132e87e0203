"""Clinical NER and assertion on public gold: medbatch's CPU engine beside a plain dictionary (and medspaCy
where it is installed), on the same text in the same run.

Corpora (development halves, ../shared/data; see devtools/ner_scoring.py for how each is scored):
- BC5CDR development split: PROBLEM (Disease) and MEDICATION (Chemical), any-overlap and exact F1;
- NegEx reports 1-60: concepts found, Negated precision/recall end to end and on the gold span.

Systems:
- ``medbatch``: ``extract_entities`` as the CPU engine runs it (CRF + vocabularies + ConText);
- ``dictionary``: the same public vocabularies matched longest-first with no model (what a team gets from
  ICD-10-CM and a drug list alone), with medbatch's ConText for assertion;
- ``medspacy``: medspaCy's ConText on the gold spans (``pip install medspacy``; skipped when absent).

Runs alternate systems (``--runs``); time is the median per 1.5 KB of text with the spread (min-max).

    python -m bench.ner_eval --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from devtools import ner_scoring
from medbatch.notes.spans import Assertion, Entity
from medbatch.notes.tasks.ner import annotate, extract_entities, vocabulary_entities
from medbatch.notes.tasks.ner.assertion import AssertionContext

TYPES = ["PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"]
NOTE_CHARS = 1500


def _medbatch(text: str) -> list[Entity]:
    return extract_entities(text, TYPES)


def _dictionary(text: str) -> list[Entity]:
    return annotate(text, vocabulary_entities(text, set(TYPES)))


def _context(text: str, start: int, end: int) -> Assertion:
    return AssertionContext(text).of(start, end)


def _medspacy_context() -> Callable[[str, int, int], Assertion] | None:
    try:
        import medspacy
    except ImportError:
        return None
    nlp = medspacy.load(enable=["medspacy_pyrush", "medspacy_context"])

    def assertion(text: str, start: int, end: int) -> Assertion:
        doc = nlp.make_doc(text)
        span = doc.char_span(start, end, label="CONCEPT", alignment_mode="expand")
        if span is None:
            return Assertion.PRESENT
        doc.ents = (span,)
        for _name, component in nlp.pipeline:
            doc = component(doc)
        return Assertion.ABSENT if doc.ents and doc.ents[0]._.is_negated else Assertion.PRESENT

    return assertion


def _chars() -> int:
    return sum(len(text) for text, _ in ner_scoring.bc5cdr_records())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not ner_scoring.available():
        raise SystemExit(f"the gold is not at {ner_scoring.SHARED / 'data'}")
    systems: dict[str, Callable[[str], list[Entity]]] = {"medbatch": _medbatch, "dictionary": _dictionary}
    timings: dict[str, list[float]] = {name: [] for name in systems}
    results: dict[str, tuple[dict[str, ner_scoring.Counts], ner_scoring.NegexCounts]] = {}
    chars = _chars()
    for _run in range(args.runs):
        for name, extract in systems.items():
            started = time.perf_counter()
            bc5cdr = ner_scoring.score_bc5cdr(extract)
            timings[name].append((time.perf_counter() - started) / chars * NOTE_CHARS * 1000)
            results[name] = (bc5cdr, ner_scoring.score_negex(extract, _context))
    print(f"BC5CDR development split ({chars} characters); NegEx reports 1-60; {args.runs} alternated runs\n")
    print("system      type        overlap R  P      F1     exact F1 | ms per 1.5 KB (median, min-max)")
    for name, (bc5cdr, _) in results.items():
        times = timings[name]
        spread = f"{statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f})"
        for kind, c in bc5cdr.items():
            print(
                f"{name:11} {kind:11} {c.recall:.3f}      {c.precision:.3f}  {c.f1:.3f}  {c.exact_f1:.3f}    | {spread}"
            )
    print("\nsystem      concepts found  Negated end to end P / R   Negated on the gold span P / R")
    for name, (_, negex) in results.items():
        e2e, gold = negex.precision_recall(negex.end_to_end), negex.precision_recall(negex.gold_span)
        print(
            f"{name:11} {negex.found_share:.3f} of {negex.located}   "
            f"{e2e[0]:.3f} / {e2e[1]:.3f}              {gold[0]:.3f} / {gold[1]:.3f}"
        )
    peer = _medspacy_context()
    if peer is None:
        print("\nmedspacy: not installed (pip install medspacy) - its ConText row is left out")
    else:
        negex = ner_scoring.score_negex(_medbatch, peer)
        gold = negex.precision_recall(negex.gold_span)
        print(f"medspacy    ConText on the gold span, Negated P / R: {gold[0]:.3f} / {gold[1]:.3f}")


if __name__ == "__main__":
    main()
