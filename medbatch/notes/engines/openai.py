"""The ``openai`` engine: any OpenAI-compatible chat endpoint (a vLLM server, Ray Serve, a gateway).

Requests run with bounded concurrency per worker; the official ``openai`` client retries 429 and 5xx
answers with exponential backoff (honouring Retry-After) and enforces timeouts. JSON answers are
requested with ``response_format: json_schema`` (vLLM's server enforces it with structured outputs) and
verified by ``LlmEngine`` like every other model answer.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar, Literal

from pydantic import Field

from medbatch.notes.engine import EngineConfig, EngineInfo
from medbatch.notes.errors import safe_error
from medbatch.notes.llm.engine import ChatRequest, Completion, LlmEngine
from medbatch.notes.llm.prompts import PROMPT_VERSION


class OpenAIEngineConfig(EngineConfig):
    """Options of the OpenAI-compatible engine.

    Args:
        base_url: the server's base URL, e.g. http://vllm.models:8000/v1.
        model: the model name the server serves.
        api_key_env: environment variable holding the API key (never put the key in the spec).
        max_concurrency: requests in flight per worker; the server batches across them.
        max_retries: retries of 429, 5xx, timeouts and connection errors, with exponential backoff.
        timeout_s: per-request timeout.
        max_model_len: the served context length (notes are chunked to fit).
        max_tokens: generation budget per request.
        combine_analysis: one request for NER + summary per text instead of two.
    """

    kind: Literal["openai"] = "openai"
    performance_fields: ClassVar[frozenset[str]] = frozenset({"max_concurrency", "max_retries", "timeout_s"})

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = Field(default=16, ge=1, le=1024)
    max_retries: int = Field(default=5, ge=0, le=20)
    timeout_s: float = Field(default=120.0, gt=0)
    max_model_len: int = Field(default=8192, ge=256)
    max_tokens: int = Field(default=1024, ge=16)
    combine_analysis: bool = False

    def describe(self) -> EngineInfo:
        """Provenance: the served model name and the prompt version."""
        return EngineInfo(name="openai", model=self.model, prompt_version=PROMPT_VERSION)

    def build(self) -> LlmEngine:
        """An LlmEngine on an OpenAI-compatible backend."""
        return LlmEngine(OpenAIBackend(self), self.describe(), self.max_tokens, self.combine_analysis)


class OpenAIBackend:
    """Chat requests to an OpenAI-compatible server with the async client, ``max_concurrency`` at a time."""

    def __init__(self, config: OpenAIEngineConfig) -> None:
        self.config = config
        self.context_length = config.max_model_len
        self.capacity = config.max_concurrency
        self._client: Any = None
        self._slots: asyncio.Semaphore | None = None

    def _connected(self) -> Any:
        """The client and the concurrency bound, made in the loop that uses them."""
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                base_url=self.config.base_url,
                api_key=os.environ.get(self.config.api_key_env) or "unused",  # local servers accept any key
                max_retries=self.config.max_retries,
                timeout=self.config.timeout_s,
            )
            self._slots = asyncio.Semaphore(self.config.max_concurrency)
        return self._client

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        """No tokenizer: the engine estimates."""
        return None

    async def complete(self, request: ChatRequest) -> Completion:
        """One chat completion; errors after the client's retries become the completion's error."""
        client = self._connected()
        assert self._slots is not None
        try:
            async with self._slots:
                response = await client.chat.completions.create(
                    model=self.config.model,
                    messages=request.messages,
                    temperature=0.0,
                    max_tokens=request.max_tokens,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {
                            "name": request.schema_name,
                            "schema": request.schema,
                            "strict": True,
                        },
                    },
                )
        except Exception as exc:  # after the client's retries; the type says enough (RateLimitError, ...)
            return Completion(text=None, error=safe_error("endpoint request failed", exc))
        usage: Any = response.usage
        choice = response.choices[0] if response.choices else None
        return Completion(
            text=choice.message.content if choice else None,
            tokens_in=int(usage.prompt_tokens) if usage else 0,
            tokens_out=int(usage.completion_tokens) if usage else 0,
            truncated=choice is not None and choice.finish_reason == "length",
        )
