"""Which engine runs: from a ModelProfile, or from an engine name and its options (the CLI's flags).

The batch job, the online service and the CLI all choose engines here, so a profile means the same engine
on every path.
"""

from __future__ import annotations

from medbatch.notes.engines.baseline import BaselineEngineConfig
from medbatch.notes.engines.openai import OpenAIEngineConfig
from medbatch.notes.engines.union import AnyEngineConfig
from medbatch.notes.engines.vllm import VllmEngineConfig
from medbatch.spec import EngineKind, ModelProfile
from medbatch.spec.run_files import MODEL_MOUNT_ROOT


class EngineChoiceError(ValueError):
    """The engine options do not add up (an unknown engine, a missing model or endpoint). Safe to show."""


def engine_config_from_profile(profile: ModelProfile, model_override: str | None = None) -> AnyEngineConfig:
    """The engine config that runs ``profile``; ``model_override`` replaces its weights' location.

    The served model name recorded in output rows is the profile's ``servedModelName``, else its name.
    """
    spec = profile.spec
    name = spec.served_model_name or profile.metadata.name
    if spec.engine is EngineKind.BASELINE:
        return BaselineEngineConfig()
    if spec.engine is EngineKind.OPENAI:
        assert spec.endpoint is not None  # the profile's validation guarantees it
        return OpenAIEngineConfig(
            base_url=spec.endpoint,
            model=model_override or name,
            max_model_len=spec.max_model_len,
            max_tokens=spec.sampling.max_tokens,
        )
    source = spec.source
    assert source is not None  # the profile's validation guarantees it
    location = source.hub or source.uri or f"{MODEL_MOUNT_ROOT}/{source.pvc}"
    return VllmEngineConfig(
        model=model_override or location,
        served_model_name=name,
        tensor_parallel_size=spec.tensor_parallel_size,
        max_model_len=spec.max_model_len,
        max_tokens=spec.sampling.max_tokens,
        temperature=spec.sampling.temperature,
        quantization=spec.quantization,
        engine_kwargs=dict(spec.engine_args),
    )


def engine_config_for(
    engine: str,
    *,
    model: str | None = None,
    endpoint: str | None = None,
    max_model_len: int = 8192,
    profile: ModelProfile | None = None,
) -> AnyEngineConfig:
    """The engine config for command-line choices: a ModelProfile file, or an engine name and its options.

    Raises:
        EngineChoiceError: an unknown engine, or an engine without the options it needs.
    """
    if profile is not None:
        return engine_config_from_profile(profile, model_override=model)
    if engine == "baseline":
        return BaselineEngineConfig()
    if engine == "vllm":
        if not model:
            raise EngineChoiceError("--engine vllm needs --model: a local model folder or a model hub id")
        return VllmEngineConfig(model=model, max_model_len=max_model_len)
    if engine == "openai":
        if not model or not endpoint:
            raise EngineChoiceError(
                "--engine openai needs --endpoint (the server's base URL) and --model (its model name)"
            )
        return OpenAIEngineConfig(base_url=endpoint, model=model, max_model_len=max_model_len)
    raise EngineChoiceError(f"unknown engine '{engine}': use baseline, vllm or openai")
