"""The ``Corpus`` custom resource: what to read, which tasks to run, with which model, where to write.

The same model is used by ``medbatch validate``/``medbatch run``, by the operator, and by the job, so a
Corpus that validates locally is the Corpus the cluster runs.
"""

from __future__ import annotations

import posixpath
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from medbatch.spec.base import SpecModel
from medbatch.spec.bounds import (
    LabelName,
    ObjectName,
    Text,
    Uri,
    cel,
)

API_GROUP = "medbatch.io"
API_VERSION = "v1alpha1"

_URI_SCHEMES = ("s3://", "gs://", "file://")
# The same checks as _check_uri, for the API server.
_URI_RULES = cel(
    (r"self.matches('\\S')", "must not be empty; use s3://bucket/prefix/, gs://..., file:///path or a path"),
    (
        "!self.contains('://') || " + " || ".join(f"self.startsWith('{s}')" for s in _URI_SCHEMES),
        "scheme is not supported; use s3://, gs:// or file://",
    ),
)


class SourceFormat(StrEnum):
    """How records are stored in the source."""

    PARQUET = "parquet"
    JSONL = "jsonl"
    CSV = "csv"
    TEXT = "text"


class PhiType(StrEnum):
    """Identifier categories removed by de-identification (HIPAA Safe Harbor's checklist, grouped)."""

    NAME = "NAME"
    DATE = "DATE"
    AGE = "AGE"
    PHONE = "PHONE"
    FAX = "FAX"
    EMAIL = "EMAIL"
    SSN = "SSN"
    MRN = "MRN"
    ACCOUNT = "ACCOUNT"
    HEALTH_PLAN = "HEALTH_PLAN"
    LICENSE = "LICENSE"
    VEHICLE = "VEHICLE"
    DEVICE = "DEVICE"
    ID = "ID"
    URL = "URL"
    IP = "IP"
    ADDRESS = "ADDRESS"
    ZIP = "ZIP"
    LOCATION = "LOCATION"


class EntityType(StrEnum):
    """Clinical entity types extracted by NER."""

    PROBLEM = "PROBLEM"
    MEDICATION = "MEDICATION"
    DOSAGE = "DOSAGE"
    PROCEDURE = "PROCEDURE"
    TEST = "TEST"
    ANATOMY = "ANATOMY"


class DeidStrategy(StrEnum):
    """How a PHI span is replaced in ``text_deid``."""

    MASK = "mask"
    """``[NAME]``, ``[DATE]``: the type stays visible, the value does not."""
    REDACT = "redact"
    """``[REDACTED]``: neither value nor type is visible."""
    SURROGATE = "surrogate"
    """Realistic fakes, consistent within the corpus under a secret key; dates shifted per patient."""


class DepartedNotes(StrEnum):
    """What a rerun does with the rows of notes whose id is no longer in the source."""

    REMOVE = "remove"
    """The output mirrors the source: a note withdrawn from it loses its de-identified copy too."""
    KEEP = "keep"
    """The output accumulates: for a landing folder whose files are deleted once they are processed."""


def _check_uri(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(
            f"{field} must not be empty; use s3://bucket/prefix/, gs://..., file:///path or a path"
        )
    if "://" in value and not value.startswith(_URI_SCHEMES):
        raise ValueError(f"{field} scheme is not supported; use s3://, gs:// or file://")
    return value


class SourceSpec(SpecModel):
    """Where the notes are and how to read them.

    Examples:
        ``{uri: s3://notes/cardiology/2024/, format: parquet, idField: note_id, textField: note_text}``
    """

    uri: Uri = Field(
        description="A file or a folder (prefix) of files: s3://, gs://, file:// or a local path. A local relative "
        "path is resolved against the folder of the Corpus YAML by `medbatch run`.",
        json_schema_extra=_URI_RULES,
    )
    format: SourceFormat = Field(
        description="parquet, jsonl, csv, or text (one note per .txt file; the id is the file's path without "
        "extension)."
    )
    id_field: Text | None = Field(
        default=None,
        description="Column holding the note id. Unset: ids are derived from file path and row number.",
    )
    text_field: Text = Field(default="text", description="Column holding the note text (ignored for text).")
    patient_field: Text | None = Field(
        default=None,
        description="Column holding a patient id. Dates of one patient are shifted by the same offset, so "
        "intervals survive across that patient's notes. Unset: each note gets its own offset.",
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return _check_uri(value, "uri")


class MemorySpec(SpecModel):
    """Corpus memory: names and places the rules found with evidence in some notes, removed in all."""

    enabled: bool = Field(
        default=True,
        description="Learn, in a first pass over the run's notes, the names and places the rules find "
        "(never a clinical or everyday word), and remove every later mention of them, cue or no cue.",
    )
    min_count: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="Notes a value must be found in before it is remembered: 2 keeps one note's false "
        'positive from spreading (docs/deidentification.md, "Corpus memory").',
    )


class AuditSpec(SpecModel):
    """The leak audit: what still looks like PHI after replacement, counted per note, and a release gate."""

    enabled: bool = Field(
        default=True,
        description="Count, in every note's kept text, what still looks like a name, place, date or "
        "identifier (counts only; the strings are never written). Off: the audit column is null.",
    )
    max_suspect_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Release gate: a note whose suspects per word kept exceed this is held (audit.held in "
        "its row) and the run ends PartiallySucceeded. 0 holds every note with a suspect; unset: no gate.",
    )


class DeidentifySpec(SpecModel):
    """De-identification options."""

    strategy: DeidStrategy = Field(default=DeidStrategy.MASK, description="mask, redact or surrogate.")
    types: list[PhiType] = Field(
        default_factory=lambda: list(PhiType),
        min_length=1,
        max_length=len(PhiType),
        description="PHI types to remove; all by default. Removing fewer types is no longer Safe Harbor.",
    )
    date_shift_max_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="surrogate only: dates move by a keyed per-patient offset of 1..N days (either way).",
    )
    recall_first: bool = Field(
        default=True,
        description="Also remove capitalized words found in no name, place, English or clinical vocabulary "
        "inside a sentence (more PHI removed, some rare clinical words too; measured in "
        "docs/deidentification.md). false keeps every word the rules do not recognize as PHI.",
    )
    memory: MemorySpec = Field(
        default_factory=MemorySpec, description="Corpus memory (batch jobs; the online service has none)."
    )
    audit: AuditSpec = Field(default_factory=AuditSpec, description="The leak audit and its release gate.")


class NerSpec(SpecModel):
    """Clinical entity extraction options."""

    types: list[EntityType] = Field(
        default_factory=lambda: list(EntityType),
        min_length=1,
        max_length=len(EntityType),
        description="Entity types to extract.",
    )


class SummarizeSpec(SpecModel):
    """Summarization options."""

    max_words: int = Field(default=120, ge=10, le=2000, description="Upper bound on summary length in words.")


_NO_TASK = "no task is enabled; set at least one of deidentify, ner, summarize"
_RAW_ANALYSIS = (
    "ner and summarize run on de-identified text by default: enable tasks.deidentify, or set "
    "tasks.analyzeRawText: true to run them on the source text (their output may then hold PHI)"
)


class TasksSpec(SpecModel):
    """Which tasks run on every note. At least one must be set."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel(
            ("has(self.deidentify) || has(self.ner) || has(self.summarize)", _NO_TASK),
            (
                "!(has(self.ner) || has(self.summarize)) || has(self.deidentify) || "
                "(has(self.analyzeRawText) && self.analyzeRawText)",
                _RAW_ANALYSIS,
            ),
        )
    }

    deidentify: DeidentifySpec | None = Field(default=None, description="Remove PHI; writes text_deid.")
    ner: NerSpec | None = Field(default=None, description="Extract clinical entities; writes entities.")
    summarize: SummarizeSpec | None = Field(default=None, description="Summarize; writes summary.")
    analyze_raw_text: bool = Field(
        default=False,
        description="Run NER and summarization on the source text instead of the de-identified text. Off by "
        "default because entities and summaries of raw text can carry PHI.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TasksSpec:
        if self.deidentify is None and self.ner is None and self.summarize is None:
            raise ValueError(_NO_TASK)
        analyzing = self.ner is not None or self.summarize is not None
        if analyzing and self.deidentify is None and not self.analyze_raw_text:
            raise ValueError(_RAW_ANALYSIS)
        return self


class OutputSpec(SpecModel):
    """Where results go."""

    uri: Uri | None = Field(
        default=None,
        description="Output folder (prefix): s3://, gs://, file:// or a path. Unset: ./medbatch-output/<name>/ "
        "for `medbatch run`; required in a cluster.",
        json_schema_extra=_URI_RULES,
    )
    include_phi_spans: bool = Field(
        default=False,
        description="Write the `phi` column (offsets and types of PHI in the source text). Off by default: "
        "it locates PHI in the source.",
    )
    departed_notes: DepartedNotes = Field(
        default=DepartedNotes.REMOVE,
        description="Rows of notes whose id left the source: `remove` (the output mirrors the source) or "
        "`keep` (for a landing folder emptied after each run). An edited note's old row goes either way.",
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else _check_uri(value, "uri")


_CHUNK_CHARS, _CHUNK_OVERLAP_CHARS = 8000, 400


class LimitsSpec(SpecModel):
    """Sizes that trade throughput against memory and fault isolation."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel(
            (
                f"(has(self.chunkOverlapChars) ? self.chunkOverlapChars : {_CHUNK_OVERLAP_CHARS}) * 2 <= "
                f"(has(self.chunkChars) ? self.chunkChars : {_CHUNK_CHARS})",
                "chunkOverlapChars must be at most half of chunkChars",
            )
        )
    }

    shard_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Records per shard. A shard is written as one Parquet part and is the unit of retry: "
        "larger shards mean fewer files, smaller ones lose less work to a crash.",
    )
    batch_size: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Most notes in flight per engine replica. Each note's requests go to the engine as soon "
        "as they are ready; the replica keeps up to twice the engine's capacity (vLLM's max_num_seqs) in "
        "flight so it never drains, and never more than this (it bounds memory).",
    )
    chunk_chars: int = Field(
        default=_CHUNK_CHARS,
        ge=200,
        le=1_000_000,
        description="Notes longer than this are split into overlapping chunks for the engine, never dropped.",
    )
    chunk_overlap_chars: int = Field(
        default=_CHUNK_OVERLAP_CHARS,
        ge=0,
        le=500_000,
        description="Overlap between chunks, so a span cut by a boundary is still seen whole.",
    )
    max_note_chars: int = Field(
        default=5_000_000,
        ge=1,
        le=1_000_000_000,
        description="Notes longer than this become error rows (almost always a corrupt record).",
    )

    @model_validator(mode="after")
    def _overlap(self) -> LimitsSpec:
        if self.chunk_overlap_chars * 2 > self.chunk_chars:
            raise ValueError(
                f"chunkOverlapChars ({self.chunk_overlap_chars}) must be at most half of chunkChars "
                f"({self.chunk_chars})"
            )
        return self


class SecretRef(SpecModel):
    """A Secret in the Corpus's namespace."""

    name: ObjectName = Field(description="Secret name.")


class RaySpec(SpecModel):
    """Run on an existing KubeRay RayCluster through its Jobs API instead of a RayJob of its own.

    The Corpus names a cluster, not an address: the operator submits to that cluster's head service in the
    Corpus's namespace, only if the platform team has allowed the cluster (listed in the chart's
    rayClusters.allowed, and labelled), and only through the head Service and token Secret KubeRay made for it.
    """

    cluster_name: LabelName = Field(
        description="A RayCluster in the Corpus's namespace that the platform team allows (listed in the "
        "chart's rayClusters.allowed and labelled medbatch.io/allow-corpora=true unless the chart says "
        "otherwise). With token authentication (authOptions.mode: token) the operator reads the token from "
        "the Secret KubeRay made for it (owned by the RayCluster).",
    )


class CredentialsSpec(SpecModel):
    """Object-storage credentials, passed to the job as environment and never copied into status."""

    secret_ref: SecretRef = Field(
        description="Secret whose keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, "
        "MEDBATCH_SURROGATE_KEY, ...) become the job's environment."
    )


MIXED_OUTPUT = (
    "output.uri must not be source.uri, inside it or contain it: results would be mixed into the input "
    "(a rerun would read its own output back)"
)


def _location(uri: str) -> tuple[str, str]:
    """(scheme, normalized path) of a URI or local path: ``..``, ``.``, ``//`` and trailing slashes gone,
    ``file://`` and plain paths alike. A relative path stays relative (both sides resolve against the same
    folder)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "file", uri
    scheme = scheme.lower()
    normalized = posixpath.normpath("/" + rest if scheme != "file" else rest or ".")
    return scheme, normalized.rstrip("/") or "/"


def same_location(a: str, b: str) -> bool:
    """Whether two locations are the same, or one lies inside the other."""
    (scheme_a, path_a), (scheme_b, path_b) = _location(a), _location(b)
    if scheme_a != scheme_b:
        return False
    return (
        path_a == path_b
        or path_a.startswith(path_b.rstrip("/") + "/")
        or path_b.startswith(path_a.rstrip("/") + "/")
    )


def _same_location_cel(a: str, b: str) -> str:
    """``same_location`` in CEL: the same place, or one inside the other.

    Each side is normalized as far as CEL's string functions reach: ``file://`` and plain paths alike, a
    leading ``./`` gone, a trailing slash added, and runs of up to four slashes collapsed (``replace`` twice;
    CEL has no loop). What stays operator-side: ``..`` and longer runs of slashes.
    """

    def normalized(uri: str) -> str:
        plain = f"{uri}.replace('file://', '')"
        relative = f"({plain}.startsWith('./') ? {plain}.substring(2) : {plain})"
        return f"({relative} + '/').replace('//', '/').replace('//', '/')"

    return f"{normalized(a)}.startsWith({normalized(b)}) || {normalized(b)}.startsWith({normalized(a)})"


class CorpusSpec(SpecModel):
    """The desired state of a Corpus.

    Examples:
        .. code-block:: yaml

            source: {uri: s3://notes/cardiology/2024/, format: parquet, idField: note_id, textField: note_text}
            tasks:
              deidentify: {strategy: surrogate}
              ner: {}
              summarize: {maxWords: 120}
            model: openbiollm-70b
            replicas: 4
            output: {uri: s3://results/cardiology-2024/}
    """

    source: SourceSpec = Field(description="Where the notes are.")
    tasks: TasksSpec = Field(description="Which tasks to run.")
    model: LabelName = Field(
        default="openbiollm-70b",
        description="Name of a ModelProfile (cluster-scoped). `medbatch run` uses the CPU baseline engine "
        "unless told otherwise.",
    )
    replicas: int = Field(
        default=1, ge=1, le=512, description="Engine replicas; each gets the profile's GPUs."
    )
    output: OutputSpec = Field(default_factory=OutputSpec, description="Where results go.")
    credentials: CredentialsSpec | None = Field(default=None, description="Object-storage credentials.")
    suspend: bool = Field(default=False, description="Pause the job; set back to false to resume.")
    limits: LimitsSpec = Field(default_factory=LimitsSpec, description="Shard, batch and note-size limits.")
    ray: RaySpec | None = Field(
        default=None,
        description="Run on this existing RayCluster (Jobs API) instead of creating a RayJob. Unset: a RayJob.",
    )
    service_account_name: ObjectName | None = Field(
        default=None,
        description="ServiceAccount of the Ray pods, for cloud workload identity (IRSA, GKE Workload Identity) "
        "instead of static keys in `credentials`. Unset: the namespace's default account, with no API token "
        "mounted (the job never calls Kubernetes).",
    )

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel(
            (
                "!has(self.output) || !has(self.output.uri) || !("
                + _same_location_cel("self.output.uri", "self.source.uri")
                + ")",
                MIXED_OUTPUT,
            )
        )
    }

    @model_validator(mode="after")
    def _output_differs_from_source(self) -> CorpusSpec:
        if self.output.uri is not None and same_location(self.output.uri, self.source.uri):
            raise ValueError(MIXED_OUTPUT)
        return self


def resource_document(api_version: str, kind: str, metadata: ObjectMeta, spec: SpecModel) -> dict[str, Any]:
    """A minimal manifest of a custom resource (server-set metadata and status left out)."""
    meta = {"name": metadata.name} | ({"namespace": metadata.namespace} if metadata.namespace else {})
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec.to_wire()}


class ObjectMeta(SpecModel):
    """The part of Kubernetes metadata medbatch reads. Other metadata (labels, uid, ...) is accepted."""

    model_config = SpecModel.model_config | {"extra": "allow"}

    name: LabelName = Field(description="DNS-1123 label.")
    namespace: LabelName | None = Field(default=None, description="Namespace (cluster only).")


class Corpus(SpecModel):
    """A ``Corpus`` custom resource as found in YAML."""

    def document(self) -> dict[str, Any]:
        """The resource as a plain document: apiVersion, kind, name (and namespace) and spec."""
        return resource_document(self.api_version, self.kind, self.metadata, self.spec)

    model_config = SpecModel.model_config | {"extra": "allow"}  # status and other server-set fields

    api_version: Literal["medbatch.io/v1alpha1"] = Field(description="medbatch.io/v1alpha1")
    kind: Literal["Corpus"] = Field(description="Corpus")
    metadata: ObjectMeta
    spec: CorpusSpec
