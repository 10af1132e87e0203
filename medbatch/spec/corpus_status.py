"""The Corpus's status as the CRD declares it: phases, conditions and the fields the operator writes.

The CRD's status schema is generated from ``CorpusStatus`` (``make generate``), so the spec and status of
the custom resource live together in this package; the operator decides the values
(``medbatch.operator.status``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from medbatch.spec.bounds import LABEL_CHARS, URI_CHARS


class Phase(StrEnum):
    """Corpus phases, shown by ``kubectl get corpora``."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.PARTIALLY_SUCCEEDED, Phase.FAILED})
# Status fields the operator sets when it starts a Corpus's job (a RayJob, or a Jobs API submission); the
# CRD's CEL rule reads the same ones to freeze a started Corpus's spec.
STARTED_MARKERS = ("rayJob", "submissionId")
# Spec fields that may change while a Corpus runs; every other field is immutable once it has started.
MUTABLE_WHILE_RUNNING = ("suspend",)


_MESSAGE_CHARS = 1024
_REASON_CHARS = 128


def truncated(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(limit: int) -> BeforeValidator:
    """Cut a string to ``limit`` characters, so a long message never makes the status invalid."""
    return BeforeValidator(lambda value: truncated(value, limit) if isinstance(value, str) else value)


Message = Annotated[str, _bounded(_MESSAGE_CHARS), Field(max_length=_MESSAGE_CHARS)]
Reason = Annotated[str, _bounded(_REASON_CHARS), Field(max_length=_REASON_CHARS)]
Timestamp = Annotated[str, Field(max_length=64)]


def timestamp(moment: datetime) -> str:
    """``moment`` as Kubernetes writes times in a status (RFC 3339, UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _WireModel(BaseModel):
    """camelCase on the wire, as every Kubernetes status."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Condition(_WireModel):
    """One Kubernetes condition (metav1.Condition's fields)."""

    type: Annotated[str, Field(max_length=32)]
    status: Annotated[str, Field(pattern="^(True|False|Unknown)$", max_length=7)]
    reason: Reason
    message: Message
    last_transition_time: Timestamp
    observed_generation: int


Counts = Annotated[dict[str, int], Field(max_length=8)]


Short = Annotated[str, Field(max_length=32)]


class CorpusStatus(_WireModel):
    """The status the operator writes; the CRD's status schema is generated from this model."""

    phase: Phase
    reason: Reason
    message: Message
    progress: Annotated[str, Field(max_length=64)] = ""
    throughput: Short = Field(default="", description="Notes per second over the last minutes.")
    eta: Short = Field(default="", description="Time left at that pace, while running.")
    elapsed: Short = Field(default="", description="Time this run of the job has been going.")
    gpu_hours: Short = Field(
        default="", description="GPU time of this run: GPUs per replica x replicas x wall time, in hours."
    )
    cost: Short = Field(
        default="", description="GPU-hours x the ModelProfile's price per GPU-hour, when it declares one."
    )
    records: Counts = Field(default_factory=dict)
    shards: Counts = Field(default_factory=dict)
    tokens: Counts = Field(default_factory=dict)
    audit: Counts = Field(
        default_factory=dict,
        description="The leak audit of the finished run: suspects by type (NAME, LOCATION, DATE, ID), "
        "notes audited (notes) and held by the gate (held); counts only.",
    )
    output_uri: Annotated[str, Field(max_length=URI_CHARS)] | None = None
    dashboard_url: Annotated[str, Field(max_length=URI_CHARS)] | None = Field(
        default=None, alias="dashboardUrl"
    )
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    observed_generation: int
    conditions: Annotated[list[Condition], Field(max_length=8)]
    ray_job: Annotated[str, Field(max_length=LABEL_CHARS)] | None = Field(
        default=None, description="The RayJob running this Corpus (set once it is created)."
    )
    submission_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The Jobs API submission running this Corpus (set once it is submitted)."
    )
    resumes: int | None = Field(default=None, description="How often a Jobs API run was resumed.")
    spec_hash: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Hash of the spec the job was started with (spec.suspend left out): a spec edited while "
        "the job was being started is told apart from the one that runs, and the job is stopped.",
    )
