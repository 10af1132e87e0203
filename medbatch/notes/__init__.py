"""The note-level core: one note in, one ``NoteOutput`` out, for batch jobs, the online service and
evaluations alike.

``NoteProcessor`` runs a note's task graph (chunk -> PHI requests -> union with the recognizers ->
replacement -> analysis requests -> output) against a streaming engine; ``Window`` keeps a bounded number
of notes in flight so the engine never drains while work is pending. Nothing here knows about shards,
files or HTTP.
"""

from medbatch.notes.note import Note, Processed
from medbatch.notes.output import EntityOut, NoteOutput, PhiSpanOut
from medbatch.notes.processor import NoteProcessor
from medbatch.notes.run import process_notes
from medbatch.notes.window import WINDOW_PER_CAPACITY, Window

__all__ = [
    "WINDOW_PER_CAPACITY",
    "EntityOut",
    "Note",
    "NoteOutput",
    "NoteProcessor",
    "PhiSpanOut",
    "Processed",
    "Window",
    "process_notes",
]
