"""The registered stages: what ``NoteProcessor`` runs, and whose columns the output carries.

The built-in stages run in this order; a plug-in registers its own with ``STAGES.register`` at import
time (in every process that builds a ``NoteProcessor`` or an output schema).
"""

from __future__ import annotations

from medbatch.notes.stage import StageRegistry
from medbatch.notes.tasks.ner.stage import NerStage
from medbatch.notes.tasks.summary.stage import SummaryStage

STAGES = StageRegistry([NerStage(), SummaryStage()])
