"""What medbatch says about one note: the contract shared by batch output rows and the online API."""

from __future__ import annotations

from dataclasses import asdict

from pydantic import BaseModel, ConfigDict, Field

from medbatch.notes.spans import Assertion, Entity


class PhiSpanOut(BaseModel):
    """A PHI span: offsets into the source text (end exclusive, in Unicode code points)."""

    start: int
    end: int
    type: str = Field(description="NAME, DATE, PHONE, ... (see docs/output-schema.md)")
    source: str = Field(description="rule, llm, or rule+llm (both layers found it)")


class MedicationAttributesOut(BaseModel):
    """How a medication is given, as the note writes it (each null when the note does not say)."""

    dose: str | None = Field(default=None, description='Amount, as written: "25", "0.5", "1-2".')
    unit: str | None = Field(default=None, description='Unit of the dose: "mg", "mcg", "units", "puffs".')
    route: str | None = Field(default=None, description='"PO", "IV", "SC", "inhaled", ...')
    frequency: str | None = Field(
        default=None, description='"BID", "q6h", "daily", "q4-6h PRN", ... (as needed included)'
    )
    duration: str | None = Field(default=None, description='"for 7 days", "x 5 days", "taper over 2 weeks".')


class EntityOut(BaseModel):
    """A clinical entity: offsets into text_deid (or the source text when analyzeRawText is set)."""

    start: int
    end: int
    type: str = Field(description="PROBLEM, MEDICATION, DOSAGE, PROCEDURE, TEST or ANATOMY")
    text: str
    assertion: str = Field(
        default="present",
        description="present, absent (negated), possible, conditional, historical or family (ConText).",
    )
    section: str | None = Field(
        default=None,
        description="chief_complaint, history_of_present_illness, past_history, medications, allergies, "
        "family_history, social_history, review_of_systems, physical_exam, results, assessment_and_plan; "
        "null before any recognized header.",
    )
    code: str | None = Field(default=None, description="Vocabulary code (ICD-10-CM for problems, DrugBank).")
    code_system: str | None = Field(
        default=None, description="ICD-10-CM, DrugBank or MeSH; null with no code."
    )
    attributes: MedicationAttributesOut | None = Field(
        default=None, description="For a MEDICATION: dose, unit, route, frequency, duration."
    )

    @classmethod
    def of(cls, entity: Entity) -> EntityOut:
        """The output form of an annotated entity."""
        attributes = entity.attributes
        return cls(
            start=entity.start,
            end=entity.end,
            type=entity.type,
            text=entity.text,
            assertion=(entity.assertion or Assertion.PRESENT).value,
            section=entity.section.value if entity.section is not None else None,
            code=entity.code,
            code_system=entity.code_system,
            attributes=MedicationAttributesOut(**asdict(attributes)) if attributes is not None else None,
        )


class EntityColumns(BaseModel):
    """The NER stage's column."""

    entities: list[EntityOut] | None = Field(
        default=None, description="Entities; null when ner is off or failed."
    )


class SummaryColumns(BaseModel):
    """The summarization stage's columns."""

    summary: str | None = Field(default=None, description="Summary; null when summarize is off or failed.")
    summary_fallback: str | None = Field(
        default=None,
        description="Why the model's summary was replaced by the CPU summary: problem_not_in_note, "
        "medication_not_in_note, negated_as_present or present_as_negated; null when it was kept.",
    )


class _Identity(BaseModel):
    id: str = Field(description="The record's id (from source.idField, or derived from file and row).")


class SuspectCount(BaseModel):
    """How many strings of one type still looked like PHI after replacement (a count, never a value)."""

    type: str = Field(description="NAME, LOCATION, DATE or ID")
    count: int


class AuditOut(BaseModel):
    """The leak audit of one note: what its kept text still looks like, counted (docs/deidentification.md)."""

    suspects: int = Field(description="Strings of the kept text that still look like PHI, all types.")
    by_type: list[SuspectCount] = Field(description="The suspects by type (types with none left out).")
    words: int = Field(description="Words the note kept (outside every PHI span).")
    rate: float = Field(description="suspects / words (0 when the note kept no word).")
    held: bool = Field(
        description="Over tasks.deidentify.audit.maxSuspectRate: hold the note back from release."
    )


class DeidColumns(BaseModel):
    """De-identification's columns (filled by the core, not by a stage)."""

    text_deid: str | None = Field(
        description="De-identified text; null when deidentify is off or the row failed."
    )
    phi: list[PhiSpanOut] | None = Field(
        description="PHI spans in the source text; only with output.includePhiSpans."
    )
    audit: AuditOut | None = Field(
        default=None,
        description="The leak audit (counts only); null when deidentify or its audit is off, or the row failed.",
    )


# The built-in stages' columns sit between the identity and the provenance, in the order they always had
# (pydantic collects fields from the last base to the first).
class NoteOutput(SummaryColumns, EntityColumns, DeidColumns, _Identity):
    """What medbatch says about one note: shared by the batch output rows and the online API.

    A stage registered beyond the built-in ones adds its columns as extra fields (``model_extra``); the
    Parquet schema and the HTTP response carry them too.
    """

    # Every column is always in a row (null where its stage is off), so the response schema requires them.
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    error: str | None = Field(description="Why the row failed, in words with no note text; null when fine.")
    model: str = Field(description="Model that produced the row (medbatch-baseline for the CPU engine).")
    prompt_version: str = Field(description="Version of the prompts (or baseline rules) used.")
    tokens_in: int = Field(description="Prompt tokens spent on this record (0 for the baseline).")
    tokens_out: int = Field(description="Generated tokens spent on this record.")
