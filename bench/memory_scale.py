"""Corpus memory at scale: its size against notes and distinct PHI strings, and its cost per note.

Streams N synthetic notes (``devtools/deid_corpus.py``: made-up names drawn from fixed pools, streets
and hospitals built from them with house numbers, so distinct strings keep growing, more slowly than
notes), learns the memory as a job's first pass does (``note_entries`` per note, counts added) and, at
each checkpoint, prints the notes read, the distinct name and place strings planted so far, the hashed
values counted and those remembered (``min_count``), the size of what a job keeps (``_memory.json``),
and ms per note of the first pass and of the memory's lookup in the second (timed on the latest
``sample`` notes, the rules' own time left out). The figure to read: the memory follows distinct
strings, not notes.

    PYTHONPATH=. python -m bench.memory_scale --notes 100000
"""

from __future__ import annotations

import json
import time
from collections import deque

import typer

from devtools.deid_corpus import iter_notes
from medbatch.notes.tasks.deid.memory import CorpusMemory, MemoryCounts, MemoryKey, note_entries
from medbatch.notes.tasks.deid.recognizers import find_phi

LEARNED = {"PATIENT_NAME", "RELATIVE_NAME", "CLINICIAN_NAME", "STREET", "CITY", "COUNTY", "HOSPITAL"}


def main(
    notes: int = typer.Option(100_000, help="Notes to stream."),
    checkpoints: int = typer.Option(4, help="Rows printed, at evenly spaced note counts."),
    min_count: int = typer.Option(2, help="The memory's minCount."),
    sample: int = typer.Option(500, help="Notes the second pass is timed on at each checkpoint."),
) -> None:
    """Print the memory's size and cost as the corpus grows."""
    key = MemoryKey(b"bench")
    counts = MemoryCounts()
    distinct: set[str] = set()
    recent: deque[str] = deque(maxlen=sample)
    learn_s = 0.0
    marks = {notes * (i + 1) // checkpoints for i in range(checkpoints)}
    print(
        "notes | distinct name/place strings | hashed values | remembered | _memory.json KiB | "
        "ms/note learn | ms/note memory lookup"
    )
    for n, note in enumerate(iter_notes(notes, seed=7), start=1):
        distinct.update(p.value.lower() for p in note.phi if p.category in LEARNED)
        began = time.perf_counter()
        counts.counts.update(note_entries(note.text, key))
        learn_s += time.perf_counter() - began
        recent.append(note.text)
        if n in marks:
            memory = CorpusMemory(key, counts, min_count)
            found = [(text, find_phi(text)) for text in recent]
            began = time.perf_counter()
            for text, spans in found:
                memory.find(text, spans)
            mask_ms = (time.perf_counter() - began) * 1000 / len(recent)
            kib = len(json.dumps(counts.to_json())) / 1024
            print(
                f"{n} | {len(distinct)} | {len(counts.counts)} | {len(memory)} | {kib:.0f} | "
                f"{learn_s * 1000 / n:.2f} | {mask_ms:.2f}"
            )


if __name__ == "__main__":
    typer.run(main)
