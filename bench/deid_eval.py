"""How much PHI gets through? medbatch beside Presidio and Philter on one synthetic corpus, in one run.

The corpus (``medbatch.testing.deid_corpus``) plants PHI of every Safe Harbor category that occurs in text,
in varied formats and positions, and clinical look-alikes that must survive. For each system it prints
recall per category (an identifier counts only when every letter and digit of it is removed), clinical
look-alike retention, and time per note; for medbatch also PHI found in summaries and entities computed
from the de-identified text.

Systems:
- medbatch, CPU baseline engine (rules only; the LLM engines add the model's spans on top of these);
- Presidio (presidio-analyzer) with its pattern recognizers only: its spaCy model cannot be downloaded
  here, so it runs on a blank spaCy pipeline and finds no names or locations by NER;
- Philter (philter-lite, its default philter_delta configuration), with NLTK's tagger data from
  $NLTK_DATA (default ../shared/data/nltk_data).

    pip install -e ".[jobs,eval]"
    python bench/deid_eval.py --notes 500 --seed 7
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from medbatch.testing.deid_corpus import CATEGORIES, EvalNote, generate
from medbatch.testing.deid_scoring import Scores, score_medbatch

Spans = list[tuple[int, int]]
ROOT = Path(__file__).resolve().parents[1]


def presidio() -> Callable[[str], Spans]:
    """Presidio's analyzer with every default recognizer, on a blank spaCy pipeline."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries to download the suffix list
    blank = tempfile.mkdtemp(prefix="blank-spacy-")
    spacy.blank("en").to_disk(blank)
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": blank}]),
        supported_languages=["en"],
    )

    def run(text: str) -> Spans:
        return [(r.start, r.end) for r in engine.analyze(text=text, language="en")]

    return run


def philter() -> Callable[[str], Spans]:
    """philter-lite with its bundled configuration; removed characters read off its asterisk output."""
    os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "data" / "nltk_data"))
    import philter_lite

    config = resources.files("philter_lite") / "configs" / "philter_delta.toml"
    filters = philter_lite.load_filters(str(config))

    def run(text: str) -> Spans:
        include, _, _ = philter_lite.detect_phi(text, filters)
        masked = philter_lite.transform_text_asterisk(text, include)
        return [(i, i + 1) for i, (a, b) in enumerate(zip(text, masked, strict=False)) if a != b]

    return run


def score_external(notes: Sequence[EvalNote], system: Callable[[str], Spans]) -> tuple[Scores, float]:
    scores = Scores()
    started = time.perf_counter()
    for note in notes:
        scores.add(note, system(note.text))
    return scores, time.perf_counter() - started


def report(results: dict[str, tuple[Scores, float]], notes: int) -> dict[str, Any]:
    names = list(results)
    print(f"\n{'category':<16}" + "".join(f"{n:>12}" for n in names))
    for category in CATEGORIES:
        print(f"{category:<16}" + "".join(f"{results[n][0].recall(category):>12.3f}" for n in names))
    rows: dict[str, Callable[[Scores], float]] = {
        "recall, structured": lambda s: s.group_recall("structured"),
        "recall, names+addr": lambda s: s.group_recall("names_addresses"),
        "look-alikes kept": lambda s: s.retention(),
    }
    for label, fn in rows.items():
        print(f"{label:<16}" + "".join(f"{fn(results[n][0]):>12.3f}" for n in names))
    print(f"{'ms per note':<16}" + "".join(f"{1000 * results[n][1] / notes:>12.2f}" for n in names))
    return {
        name: {
            "recall": {c: scores.recall(c) for c in CATEGORIES},
            "recall_structured": scores.group_recall("structured"),
            "recall_names_addresses": scores.group_recall("names_addresses"),
            "lookalike_retention": scores.retention(),
            "ms_per_note": 1000 * seconds / notes,
            "summary_leaks": scores.summary_leaks if name == "medbatch" else None,
            "entity_leaks": scores.entity_leaks if name == "medbatch" else None,
            "summary_missed": scores.summary_missed if name == "medbatch" else None,
        }
        for name, (scores, seconds) in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", nargs="*", default=[], choices=["presidio", "philter"])
    args = parser.parse_args()
    notes = generate(args.notes, seed=args.seed)
    planted = sum(len(n.phi) for n in notes)
    print(
        f"{len(notes)} notes, {planted} planted identifiers, {sum(len(n.lookalikes) for n in notes)} look-alikes"
    )

    started = time.perf_counter()
    ours = score_medbatch(notes)  # mask: the default strategy
    results: dict[str, tuple[Scores, float]] = {"medbatch": (ours, time.perf_counter() - started)}
    if "presidio" not in args.skip:
        results["presidio"] = score_external(notes, presidio())
    if "philter" not in args.skip:
        results["philter"] = score_external(notes, philter())
    figures = report(results, len(notes))
    print(
        f"\nmedbatch: removed identifiers brought back by summaries: {ours.summary_leaks}, by entities: "
        f"{ours.entity_leaks}; identifiers de-identification missed that reach a summary: {ours.summary_missed}"
    )
    print("(medbatch's time includes NER and a summary per note; the others only find PHI)")
    for name, (scores, _) in results.items():
        missed = {c: v[:3] for c, v in scores.missed_examples.items() if scores.recall(c) < 0.97}
        if missed:
            print(f"{name} misses, e.g.: {json.dumps(missed)[:600]}")

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {"notes": len(notes), "seed": args.seed, "machine": platform.platform(), "systems": figures}
    (out / "deid_eval.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
