"""The vLLM engine: vLLM's async engine (``AsyncLLM``) inside each shard worker (one replica per worker).

Each worker holds one engine spanning ``tensorParallelSize`` GPUs (CPU bundles on a CPU build). Requests
stream in one at a time from the notes in flight, so continuous batching always has work and no request
waits for a batch to drain. JSON answers are constrained with vLLM structured outputs, then parsed and
verified by ``LlmEngine``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from medbatch.notes.engine import EngineConfig, EngineInfo
from medbatch.notes.engines.weights import local_model_path
from medbatch.notes.errors import safe_error
from medbatch.notes.llm.engine import ChatRequest, Completion, LlmEngine
from medbatch.notes.llm.prompts import PROMPT_VERSION

# vLLM's own default for concurrent sequences; an engine's capacity unless engine_kwargs say otherwise.
_DEFAULT_MAX_NUM_SEQS = 256

# Defaults that keep vLLM quiet about requests (no prompts in logs).
_VLLM_ENV = {"VLLM_LOGGING_LEVEL": "WARNING", "VLLM_CPU_KVCACHE_SPACE": "1"}


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

    def build(self) -> LlmEngine:
        """An LlmEngine on a vLLM backend (the model loads on the first request)."""
        return LlmEngine(VllmBackend(self), self.describe(), self.max_tokens, self.combine_analysis)


class VllmBackend:
    """Chat requests on vLLM's async engine, each submitted the moment it is asked for.

    The engine (``AsyncLLM``) is started on the first request, in the event loop that makes it: its
    engine core runs in a process of its own, so Python work here (verification, replacement, the next
    note's rules) never holds the scheduler back. Prompts are tokenized here with the model's chat
    template, so a prompt too long for the context fails alone before it reaches the engine.
    """

    def __init__(self, config: VllmEngineConfig) -> None:
        for key, value in _VLLM_ENV.items():
            os.environ.setdefault(key, value)
        from transformers import AutoTokenizer

        self.config = config
        self.context_length = config.max_model_len
        self.capacity = int(config.engine_kwargs.get("max_num_seqs", _DEFAULT_MAX_NUM_SEQS))
        self.model_path = local_model_path(config.model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self._engine: Any = None
        self._starting: asyncio.Lock | None = None

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        """Token offsets from the model's own tokenizer."""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(pair) for pair in encoded["offset_mapping"]]

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        ids = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        return list(ids if isinstance(ids, list) else ids["input_ids"])

    async def _started(self) -> Any:
        if self._engine is None:
            self._starting = self._starting or asyncio.Lock()
            async with self._starting:
                if self._engine is None:
                    from vllm.engine.arg_utils import AsyncEngineArgs
                    from vllm.v1.engine.async_llm import AsyncLLM

                    args = AsyncEngineArgs(
                        model=self.model_path,
                        tensor_parallel_size=self.config.tensor_parallel_size,
                        max_model_len=self.config.max_model_len,
                        dtype=self.config.dtype,
                        quantization=self.config.quantization,
                        seed=self.config.seed,
                        enable_prefix_caching=True,
                        structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
                        **self.config.engine_kwargs,
                    )
                    self._engine = AsyncLLM.from_engine_args(args)
        return self._engine

    async def complete(self, request: ChatRequest) -> Completion:
        """Generate one answer; a request too long for the context, or a broken engine, is an error."""
        from vllm.sampling_params import SamplingParams, StructuredOutputsParams

        ids = self._prompt_ids(request.messages)
        if len(ids) + request.max_tokens > self.context_length:
            return Completion(text=None, error="prompt does not fit max_model_len")
        params = SamplingParams(
            temperature=self.config.temperature,
            max_tokens=request.max_tokens,
            structured_outputs=StructuredOutputsParams(json=request.schema)
            if self.config.structured_outputs
            else None,
        )
        final: Any = None
        try:
            engine = await self._started()
            async for output in engine.generate({"prompt_token_ids": ids}, params, uuid.uuid4().hex):
                final = output
        except Exception as exc:  # the engine broke: this request fails, safely worded
            return Completion(text=None, error=safe_error("vLLM generate failed", exc))
        if final is None or not final.outputs:
            return Completion(text=None, error="no answer")
        generated = final.outputs[0]
        return Completion(
            text=generated.text,
            tokens_in=len(final.prompt_token_ids or ids),
            tokens_out=len(generated.token_ids),
            truncated=generated.finish_reason == "length",
            tokens_cached=int(final.num_cached_tokens or 0),
        )

    def close(self) -> None:
        """Stop the engine core process."""
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
