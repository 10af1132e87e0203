"""Model backends behind one interface (``medbatch.notes.engine.Engine``); each config's ``build()`` makes
its engine, and ``selection`` chooses the config from a ModelProfile or the CLI's flags."""

from medbatch.notes.engine import (
    Engine,
    EngineConfig,
    EngineInfo,
    Occupancy,
    OccupancyMeter,
    TaskResult,
)
from medbatch.notes.engines.baseline import BaselineEngineConfig
from medbatch.notes.engines.openai import OpenAIEngineConfig
from medbatch.notes.engines.selection import EngineChoiceError, engine_config_for, engine_config_from_profile
from medbatch.notes.engines.union import AnyEngineConfig, RunnableEngineConfig
from medbatch.notes.engines.vllm import VllmEngineConfig

__all__ = [
    "AnyEngineConfig",
    "BaselineEngineConfig",
    "Engine",
    "EngineChoiceError",
    "EngineConfig",
    "EngineInfo",
    "Occupancy",
    "OccupancyMeter",
    "OpenAIEngineConfig",
    "RunnableEngineConfig",
    "TaskResult",
    "VllmEngineConfig",
    "engine_config_for",
    "engine_config_from_profile",
]
