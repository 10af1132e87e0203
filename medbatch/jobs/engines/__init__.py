"""Model backends behind one interface (see ``base.Engine``); importing this package registers them."""

from typing import Annotated

from pydantic import Field

from medbatch.jobs.engines.base import (
    Analysis,
    AnalysisRequest,
    Engine,
    EngineConfig,
    EngineInfo,
    TaskResult,
    build_engine,
    register_engine,
)
from medbatch.jobs.engines.baseline import BaselineEngineConfig
from medbatch.jobs.engines.fake import FakeEngineConfig
from medbatch.jobs.engines.openai import OpenAIEngineConfig
from medbatch.jobs.engines.vllm import VllmEngineConfig

AnyEngineConfig = Annotated[
    BaselineEngineConfig | FakeEngineConfig | VllmEngineConfig | OpenAIEngineConfig,
    Field(discriminator="kind"),
]

__all__ = [
    "Analysis",
    "AnalysisRequest",
    "AnyEngineConfig",
    "BaselineEngineConfig",
    "Engine",
    "EngineConfig",
    "EngineInfo",
    "FakeEngineConfig",
    "OpenAIEngineConfig",
    "TaskResult",
    "VllmEngineConfig",
    "build_engine",
    "register_engine",
]
