"""Model backends behind one interface (see ``base.Engine``); each config's ``build()`` makes its engine."""

from typing import Annotated

from pydantic import Field

from medbatch.notes.engines.base import (
    Analysis,
    AnalysisRequest,
    Engine,
    EngineConfig,
    EngineInfo,
    Occupancy,
    OccupancyMeter,
    TaskResult,
)
from medbatch.notes.engines.baseline import BaselineEngineConfig
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.notes.engines.openai import OpenAIEngineConfig
from medbatch.notes.engines.vllm import VllmEngineConfig

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
    "Occupancy",
    "OccupancyMeter",
    "OpenAIEngineConfig",
    "TaskResult",
    "VllmEngineConfig",
]
