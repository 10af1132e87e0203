"""Does the leak audit track real leaks? Its suspects beside the gold's leaks, per type, on real notes.

Runs the rules as a batch job applies them (the note core, baseline engine, mask strategy, the corpus
memory learned over the same notes first) on the real corpora with gold PHI, then for every note counts
what leaked (the shared scorer's rule) and what the audit suspects, per audit type (the gold's types
grouped: every kind of name, places, dates, numbers). Printed per corpus and half: leaks and suspects
per 100 notes and their ratio (the target: within a factor of 2), and, note by note, how a gate that
holds every note with a suspect would do (the share of leaking notes it holds, the share of held notes
that leak). MTSamples has no gold PHI to speak of: only its suspects per 100 notes are shown.

    PYTHONPATH=. python -m bench.deid_audit
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import typer

from devtools import real_deid
from medbatch.notes import Note, process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.tasks.deid.audit import SUSPECT_TYPES, audit_note
from medbatch.notes.tasks.deid.memory import MemoryKey, corpus_memory
from medbatch.spec import LimitsSpec, MemorySpec, PhiType, TasksSpec

# Gold types of the corpora, grouped as the audit counts them (ages are not audited).
AUDIT_TYPE = {
    "HCPNAME": PhiType.NAME,
    "RELATIVEPROXYNAME": PhiType.NAME,
    "PTNAME": PhiType.NAME,
    "PTNAMEINITIAL": PhiType.NAME,
    "DOCTOR": PhiType.NAME,
    "PATIENT": PhiType.NAME,
    "USERNAME": PhiType.NAME,
    "LOCATION": PhiType.LOCATION,
    "HOSPITAL": PhiType.LOCATION,
    "DATE": PhiType.DATE,
    "PHONE": PhiType.ID,
    "MEDICALRECORD": PhiType.ID,
    "IDNUM": PhiType.ID,
    "OTHER": PhiType.ID,
}


def _masked(text: str, spans: Sequence[PhiSpan]) -> str:
    out, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start >= cursor:
            out += [text[cursor : span.start], "[PHI]"]
            cursor = span.end
    return "".join([*out, text[cursor:]])


def _report(name: str, notes: Sequence[real_deid.GoldNote], gold: bool) -> None:
    memory = corpus_memory((n.text for n in notes), MemoryKey(os.urandom(32)), MemorySpec().min_count)
    outputs = process_notes(
        TasksSpec.model_validate({"deidentify": {}}),
        LimitsSpec(),
        BaselineEngine(),
        [Note(n.id, n.text, n.patient) for n in notes],
        include_phi_spans=True,
        memory=memory,
    )
    leaks: Counter[PhiType] = Counter()
    suspects: Counter[PhiType] = Counter()
    held = leaking = held_leaking = 0
    for note, output in zip(notes, outputs, strict=True):
        spans = [PhiSpan(p.start, p.end, PhiType(p.type), SpanSource(p.source)) for p in output.phi or []]
        found = audit_note(note.text, spans, memory)
        suspects.update(found.suspects)
        scores = real_deid.score([note], [_masked(note.text, spans)])
        note_leaks = Counter({AUDIT_TYPE[k]: n for k, n in scores.leaked.items() if k in AUDIT_TYPE and n})
        leaks.update(note_leaks)
        held += found.total > 0
        leaking += bool(note_leaks)
        held_leaking += found.total > 0 and bool(note_leaks)
    per100 = 100 / len(notes)
    print(f"\n{name} ({len(notes)} notes)")
    print("type | leaked per 100 notes | suspects per 100 notes | suspects / leaks")
    for kind in SUSPECT_TYPES:
        ratio = f"{suspects[kind] / leaks[kind]:.2f}" if leaks[kind] else "-"
        shown = f"{leaks[kind] * per100:.1f}" if gold else "-"
        print(f"{kind.value} | {shown} | {suspects[kind] * per100:.1f} | {ratio if gold else '-'}")
    total_leaks, total_suspects = sum(leaks.values()), sum(suspects.values())
    ratio = f"{total_suspects / total_leaks:.2f}" if total_leaks else "-"
    print(f"all | {total_leaks * per100 if gold else 0:.1f} | {total_suspects * per100:.1f} | {ratio}")
    if gold:
        print(
            f"gate 'hold any note with a suspect': holds {held} notes; of the {leaking} notes that leak it "
            f"holds {held_leaking} ({held_leaking / leaking if leaking else 1:.0%}); "
            f"{held_leaking / held if held else 0:.0%} of the notes it holds leak"
        )


def main(corpus: list[str] = typer.Option(["physionet", "i2b2", "mtsamples"], help="Corpora.")) -> None:
    """Print the audit beside the gold, per corpus and half."""
    for name in corpus:
        if not real_deid.available(name):
            print(f"{name}: not beside the checkout, skipped")
            continue
        notes = real_deid.load(name)
        if name in ("physionet", "mtsamples"):
            for half, members in real_deid.split(notes).items():
                _report(f"{name} {half}", members, gold=name != "mtsamples")
        else:
            _report(name, notes, gold=True)


if __name__ == "__main__":
    typer.run(main)
