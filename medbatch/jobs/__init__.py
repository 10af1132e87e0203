"""The Ray Data batch job: public surface.

Build a ``JobConfig`` (or let ``medbatch run`` build it from a Corpus YAML) and call ``run_job`` on a Ray
cluster. Everything else in this package is internal: sources/, tasks/, engines/, planning, output.
"""

from medbatch.jobs.config import SURROGATE_KEY_ENV, JobConfig
from medbatch.jobs.errors import JobError
from medbatch.jobs.manifest import Manifest
from medbatch.jobs.output import OutputRow, output_schema
from medbatch.jobs.pipeline import run_job
from medbatch.notes.engines import (
    AnyEngineConfig,
    BaselineEngineConfig,
    OpenAIEngineConfig,
    VllmEngineConfig,
)
from medbatch.spec.run_files import Outcome

__all__ = [
    "SURROGATE_KEY_ENV",
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
