"""The vLLM engine: vLLM's offline ``LLM`` inside each shard worker (one replica per worker actor).

Each worker holds one engine spanning ``tensorParallelSize`` GPUs (CPU bundles on a CPU build). Every
batch of requests from a shard is submitted in one ``LLM.chat`` call, so continuous batching sees many
requests at once; two shards run per worker so that one reads or writes while the other uses the engine.
JSON answers are constrained with vLLM structured outputs, then parsed and verified by ``LlmEngine``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from medbatch.jobs.engines.base import EngineConfig, EngineInfo, register_engine
from medbatch.jobs.engines.weights import local_model_path
from medbatch.jobs.errors import safe_error
from medbatch.jobs.llm.engine import ChatRequest, Completion, LlmEngine
from medbatch.jobs.llm.prompts import PROMPT_VERSION

# Token merges across a message boundary can differ from tokenizing contents alone; a few tokens of slack.
_TEMPLATE_SLACK_TOKENS = 8

# Defaults that keep vLLM quiet about requests (no prompts in logs) and in-process inside a Ray actor.
_VLLM_ENV = {
    "VLLM_LOGGING_LEVEL": "WARNING",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_KVCACHE_SPACE": "1",
}


class VllmEngineConfig(EngineConfig):
    """Options of the vLLM engine.

    Args:
        model: a local folder with the weights (mounted), an s3:// prefix (copied to local disk once per
            node, see ``weights.py``), or a model hub id.
        served_model_name: the name written to output rows (default: the folder or id's last part).
        tensor_parallel_size: GPUs one replica spans.
        max_model_len: context length; notes are chunked so prompt + answer fit.
        max_tokens: generation budget per request.
        dtype: weights' dtype ("auto": the checkpoint's).
        quantization: e.g. "fp8"; None for the checkpoint's.
        combine_analysis: one request for NER + summary per text instead of two sharing a cached prefix.
        temperature: sampling temperature; 0 (the default) for reproducible answers.
        structured_outputs: constrain answers to the JSON schema (off only to test junk handling).
        seed: engine seed (temperature is 0; the seed fixes any remaining nondeterminism).
        engine_kwargs: passed to ``vllm.LLM`` unchanged (gpu_memory_utilization, enforce_eager, ...). They
            must not change outputs: they are left out of the config hash.
    """

    kind: Literal["vllm"] = "vllm"
    performance_fields: ClassVar[frozenset[str]] = frozenset({"engine_kwargs", "tensor_parallel_size"})

    model: str
    served_model_name: str | None = None
    tensor_parallel_size: int = Field(default=1, ge=1)
    max_model_len: int = Field(default=8192, ge=256)
    max_tokens: int = Field(default=1024, ge=16)
    dtype: str = "auto"
    quantization: str | None = None
    combine_analysis: bool = False
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    structured_outputs: bool = True
    seed: int = 0
    engine_kwargs: dict[str, Any] = Field(default_factory=dict)

    def gpus_per_worker(self, cluster_has_gpus: bool) -> float:
        """A replica holds its tensor-parallel GPUs; on a CPU-only cluster (the CPU build) none."""
        return float(self.tensor_parallel_size) if cluster_has_gpus else 0.0

    def describe(self) -> EngineInfo:
        """Provenance: the served model name and the prompt version."""
        name = self.served_model_name or Path(self.model.rstrip("/")).name
        return EngineInfo(name="vllm", model=name, prompt_version=PROMPT_VERSION)


class VllmBackend:
    """Chat requests on a vLLM ``LLM``. Calls are serialized: one ``LLM`` runs one batch at a time."""

    def __init__(self, config: VllmEngineConfig) -> None:
        for key, value in _VLLM_ENV.items():
            os.environ.setdefault(key, value)
        from vllm import LLM

        self.config = config
        self.context_length = config.max_model_len
        self._lock = threading.Lock()
        self.llm = LLM(
            model=local_model_path(config.model),
            tensor_parallel_size=config.tensor_parallel_size,
            max_model_len=config.max_model_len,
            dtype=config.dtype,
            quantization=config.quantization,
            seed=config.seed,
            enable_prefix_caching=True,
            structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
            disable_log_stats=False,
            **config.engine_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        # Tokens the chat template adds around two messages (system, user) and the generation prompt,
        # measured once, so a request's length is its contents' tokens plus this (no templating per request).
        empty = [{"role": "system", "content": ""}, {"role": "user", "content": ""}]
        self._template_tokens = self._templated_tokens(empty) + _TEMPLATE_SLACK_TOKENS

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        """Token offsets from the model's own tokenizer."""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(pair) for pair in encoded["offset_mapping"]]

    def _templated_tokens(self, messages: list[dict[str, str]]) -> int:
        ids = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        contents = sum(len(self.tokenizer.encode(m["content"], add_special_tokens=False)) for m in messages)
        return contents + self._template_tokens

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """All requests in one ``LLM.chat`` call; requests too long for the context fail alone."""
        from vllm.sampling_params import SamplingParams, StructuredOutputsParams

        results: list[Completion | None] = [None] * len(requests)
        runnable: list[int] = []
        for index, request in enumerate(requests):
            if self._prompt_tokens(request.messages) + request.max_tokens > self.context_length:
                results[index] = Completion(text=None, error="prompt does not fit max_model_len")
            else:
                runnable.append(index)
        params = [
            SamplingParams(
                temperature=self.config.temperature,
                max_tokens=requests[i].max_tokens,
                structured_outputs=StructuredOutputsParams(json=requests[i].schema)
                if self.config.structured_outputs
                else None,
            )
            for i in runnable
        ]
        if runnable:
            try:
                with self._lock:
                    outputs = self.llm.chat(
                        [requests[i].messages for i in runnable], sampling_params=params, use_tqdm=False
                    )
            except Exception as exc:  # the engine broke: every request of the batch fails, safely worded
                error = safe_error("vLLM generate failed", exc)
                return [r or Completion(text=None, error=error) for r in results]
            for index, output in zip(runnable, outputs, strict=True):
                generated = output.outputs[0]
                results[index] = Completion(
                    text=generated.text,
                    tokens_in=len(output.prompt_token_ids or []),
                    tokens_out=len(generated.token_ids),
                    truncated=generated.finish_reason == "length",
                )
        return [r if r is not None else Completion(text=None, error="no answer") for r in results]


def build_vllm_engine(config: VllmEngineConfig) -> LlmEngine:
    """An LlmEngine on a vLLM backend."""
    return LlmEngine(VllmBackend(config), config.describe(), config.max_tokens, config.combine_analysis)


register_engine(VllmEngineConfig, build_vllm_engine)
