"""The engine configs as tagged unions: what a user may choose, and what a job may be configured to run."""

from typing import Annotated

from pydantic import Field

from medbatch.notes.engines.baseline import BaselineEngineConfig
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.notes.engines.openai import OpenAIEngineConfig
from medbatch.notes.engines.vllm import VllmEngineConfig

AnyEngineConfig = Annotated[
    BaselineEngineConfig | VllmEngineConfig | OpenAIEngineConfig,
    Field(discriminator="kind"),
]
"""The engines a user chooses (a ModelProfile's ``engine``, the CLI's ``--engine``)."""

RunnableEngineConfig = Annotated[
    BaselineEngineConfig | VllmEngineConfig | OpenAIEngineConfig | FakeEngineConfig,
    Field(discriminator="kind"),
]
"""What a job or the online service can be configured to run: the user's engines, plus the model-free
``fake`` engine that tests and benchmarks put into a job's configuration (no profile or flag selects it)."""
