"""Settings of the online service, from ``MEDBATCH_SERVE_*`` environment variables or ``build_app`` args."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Limits, batching, scaling and auth of the online service.

    Args:
        max_note_chars: longer notes are refused with 413 (the batch job's ``limits.maxNoteChars``).
        request_timeout_s: a request waiting longer gets 504.
        min_replicas, max_replicas: autoscaling bounds of the engine deployment.
        max_ongoing_requests: requests one engine replica works on at once.
        max_queued_requests: requests waiting for a replica; beyond it callers get 429 with Retry-After.
        retry_after_s: the Retry-After a 429 carries.
        api_key: when set, every /v1 request needs ``Authorization: Bearer <key>`` or ``X-API-Key``.
        engine_num_cpus, engine_num_gpus: resources of one engine replica.
    """

    model_config = SettingsConfigDict(env_prefix="MEDBATCH_SERVE_", extra="ignore")

    max_note_chars: int = Field(default=100_000, ge=1)
    request_timeout_s: float = Field(default=60.0, gt=0)
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    max_ongoing_requests: int = Field(default=64, ge=1)
    max_queued_requests: int = Field(default=256, ge=1)
    retry_after_s: int = Field(default=1, ge=1)
    api_key: SecretStr | None = None
    engine_num_cpus: float = Field(default=1.0, ge=0)
    engine_num_gpus: float = Field(default=0.0, ge=0)
