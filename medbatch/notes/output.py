"""What medbatch says about one note: the contract shared by batch output rows and the online API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PhiSpanOut(BaseModel):
    """A PHI span: offsets into the source text (end exclusive, in Unicode code points)."""

    start: int
    end: int
    type: str = Field(description="NAME, DATE, PHONE, ... (see docs/output-schema.md)")
    source: str = Field(description="rule, llm, or rule+llm (both layers found it)")


class EntityOut(BaseModel):
    """A clinical entity: offsets into text_deid (or the source text when analyzeRawText is set)."""

    start: int
    end: int
    type: str = Field(description="PROBLEM, MEDICATION, DOSAGE, PROCEDURE, TEST or ANATOMY")
    text: str


class NoteOutput(BaseModel):
    """What medbatch says about one note: shared by the batch output rows and the online API."""

    id: str = Field(description="The record's id (from source.idField, or derived from file and row).")
    text_deid: str | None = Field(
        description="De-identified text; null when deidentify is off or the row failed."
    )
    phi: list[PhiSpanOut] | None = Field(
        description="PHI spans in the source text; only with output.includePhiSpans."
    )
    entities: list[EntityOut] | None = Field(description="Entities; null when ner is off or failed.")
    summary: str | None = Field(description="Summary; null when summarize is off or failed.")
    error: str | None = Field(description="Why the row failed, in words with no note text; null when fine.")
    model: str = Field(description="Model that produced the row (medbatch-baseline for the CPU engine).")
    prompt_version: str = Field(description="Version of the prompts (or baseline rules) used.")
    tokens_in: int = Field(description="Prompt tokens spent on this record (0 for the baseline).")
    tokens_out: int = Field(description="Generated tokens spent on this record.")
