"""What a job writes and the operator reads: file names, the progress and manifest summary models, the
outcome words, the mount points, the files a job reads its spec from and the entrypoint command. Defined
once; both sides import them.

Both sides depend only on ``medbatch.spec``, so this is the one place the operator and the job meet
besides the custom resources themselves.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from enum import StrEnum

import yaml
from pydantic import BaseModel, ConfigDict, Field

from medbatch.spec.corpus import Corpus
from medbatch.spec.model_profile import ModelProfile

# In the output folder.
JOB_FILE = "_job.json"
PROGRESS_FILE = "_progress.json"
MANIFEST_FILE = "_manifest.json"

# In the job's pods.
CONFIG_MOUNT = "/etc/medbatch"
CORPUS_FILE = "corpus.yaml"
PROFILE_FILE = "modelprofile.yaml"
MODEL_MOUNT_ROOT = "/models"  # a ModelProfile's PVC is mounted at MODEL_MOUNT_ROOT/<pvc name>
ENTRYPOINT_MODULE = "medbatch.jobs.entrypoint"


def utc_now() -> str:
    """The current time as the run files write it (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def gpu_cost(gpu_seconds: float, price_per_gpu_hour: float | None) -> float | None:
    """The cost of ``gpu_seconds`` at a ModelProfile's price per GPU-hour; None when it declares none."""
    if price_per_gpu_hour is None:
        return None
    return round(gpu_seconds / 3600 * price_per_gpu_hour, 2)


class Outcome(StrEnum):
    """How a run ended (the Corpus phase uses the same words)."""

    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"


class ProgressReport(BaseModel):
    """``_progress.json``: counts while the job runs (the operator shows them in the Corpus status)."""

    model_config = ConfigDict(extra="ignore")

    shards_total: int = 0
    shards_done: int = 0
    records_total: int = 0
    records_done: int = 0
    records_failed_this_run: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    updated_at: str | None = None
    elapsed_s: float = Field(default=0.0, description="Seconds since this run started.")
    notes_per_s: float | None = Field(
        default=None, description="Notes done per second over the last few minutes; None before any shard."
    )
    eta_s: float | None = Field(
        default=None, description="Seconds to the end at that rate; None while there is no rate yet."
    )
    gpu_seconds: float = Field(
        default=0.0, description="GPUs held by the engine replicas x their wall time so far, this run."
    )
    cost: float | None = Field(
        default=None, description="GPU-hours x the ModelProfile's price per GPU-hour, when it declares one."
    )


class AuditReport(BaseModel):
    """The leak audit of a run's notes (counts only), in the manifest and the Corpus status."""

    model_config = ConfigDict(extra="ignore")

    notes_audited: int = Field(description="Rows whose kept text was audited.")
    suspects: dict[str, int] = Field(description="Strings that still looked like PHI, by type.")
    suspects_per_100_notes: dict[str, float] = Field(description="The same per 100 audited notes.")
    notes_held: int = Field(description="Notes over the release gate (audit.held in their rows).")
    max_suspect_rate: float | None = Field(description="The gate (tasks.deidentify.audit.maxSuspectRate).")


class ManifestSummary(BaseModel):
    """The part of ``_manifest.json`` the operator reads (the job's ``Manifest`` has these fields too)."""

    model_config = ConfigDict(extra="ignore")

    outcome: Outcome
    tokens_in: int = 0
    tokens_out: int = 0
    gpu_seconds: float = 0.0
    cost: float | None = None
    audit: AuditReport | None = None


def spec_files(corpus: Corpus, profile: ModelProfile) -> dict[str, str]:
    """The files a job reads its Corpus and ModelProfile from, by name: a RayJob's ConfigMap holds them,
    a Jobs API submission's working directory too."""
    return {
        CORPUS_FILE: yaml.safe_dump(corpus.document(), sort_keys=False),
        PROFILE_FILE: yaml.safe_dump(profile.document(), sort_keys=False),
    }


def entrypoint_command(folder: str = CONFIG_MOUNT, python: str = "python") -> str:
    """The job's command line, reading ``spec_files`` from ``folder``: a RayJob's mounted ConfigMap
    (the default) or ``.``, the working directory a Jobs API submission unpacks them into."""
    paths = (shlex.quote(f"{folder}/{name}") for name in (CORPUS_FILE, PROFILE_FILE))
    return f"{shlex.quote(python)} -m {ENTRYPOINT_MODULE} --corpus {next(paths)} --profile {next(paths)}"
