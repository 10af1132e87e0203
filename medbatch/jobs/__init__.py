"""The Ray Data batch job: public surface.

Build a ``JobConfig`` (or let ``medbatch run`` build it from a Corpus YAML) and call ``run_job`` on a Ray
cluster. Everything else in this package is internal: sources/ (listing and reading the notes), planning
(shards), ledger/ (the output folder: plan, commit, finish, manifest), the shard worker and progress, and
the Ray wiring (pipeline). The tasks and engines are the note core's (``medbatch.notes``).
"""

from medbatch.jobs.config import JobConfig
from medbatch.jobs.errors import JobError
from medbatch.jobs.ledger import Manifest, OutputRow, output_schema
from medbatch.jobs.pipeline import run_job
from medbatch.notes.engines import (
    AnyEngineConfig,
    BaselineEngineConfig,
    OpenAIEngineConfig,
    VllmEngineConfig,
)
from medbatch.spec.run_files import Outcome

__all__ = [
    "AnyEngineConfig",
    "BaselineEngineConfig",
    "JobConfig",
    "JobError",
    "Manifest",
    "OpenAIEngineConfig",
    "Outcome",
    "OutputRow",
    "VllmEngineConfig",
    "output_schema",
    "run_job",
]
