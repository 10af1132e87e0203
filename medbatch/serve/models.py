"""Request and response models of the online API.

Task options are the Corpus's own models (``DeidentifySpec``, ``NerSpec``, ``SummarizeSpec``,
``TasksSpec``), and a response is the batch job's ``NoteOutput``: one contract for both paths.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from medbatch.notes import NoteOutput
from medbatch.spec import DeidentifySpec, NerSpec, SummarizeSpec, TasksSpec
from medbatch.spec.base import SpecModel


class NoteRequest(SpecModel):
    """A note and how to report on it."""

    text: str = Field(min_length=1, description="The note's text.")
    id: str = Field(default="note", max_length=256, description="Echoed in the response.")
    patient_id: str | None = Field(
        default=None,
        max_length=256,
        description="Keys the per-patient date shift of the surrogate strategy (the batch job's patientField).",
    )
    include_phi_spans: bool = Field(
        default=False, description="Return the PHI spans' offsets (they locate PHI in the text you sent)."
    )


class DeidentifyRequest(NoteRequest):
    """POST /v1/deidentify."""

    deidentify: DeidentifySpec = Field(default_factory=DeidentifySpec)


class NerRequest(NoteRequest):
    """POST /v1/ner: entities of the de-identified note (as in a batch job)."""

    ner: NerSpec = Field(default_factory=NerSpec)
    deidentify: DeidentifySpec = Field(default_factory=DeidentifySpec)


class SummarizeRequest(NoteRequest):
    """POST /v1/summarize: a summary of the de-identified note (as in a batch job)."""

    summarize: SummarizeSpec = Field(default_factory=SummarizeSpec)
    deidentify: DeidentifySpec = Field(default_factory=DeidentifySpec)


class ProcessRequest(NoteRequest):
    """POST /v1/process: any tasks, given exactly as a Corpus's ``spec.tasks``."""

    tasks: TasksSpec


class NoteResponse(NoteOutput):
    """The results for one note (the batch output row without its source location)."""


class ErrorBody(BaseModel):
    """Every error answer. It never quotes the note."""

    error: str = Field(description="A machine-readable code: invalid_request, note_too_large, ...")
    message: str = Field(description="What is wrong, for people.")
    fields: list[str] = Field(default_factory=list, description="Request fields at fault (invalid_request).")


class Health(BaseModel):
    """GET /healthz."""

    status: str
    model: str
