"""Operator-wide settings, read from the environment (the Helm chart sets them on the Deployment)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from medbatch.operator.render import RenderSettings


class OperatorConfig(BaseSettings):
    """``MEDBATCH_*`` environment variables of the operator.

    Args:
        job_image: default job image (a ModelProfile's ``image`` wins).
        ray_version: the Ray version inside the job image.
        poll_interval_s: how often a running Corpus's RayJob and progress file are read.
        retry_delay_s: how soon a Corpus waiting for its ModelProfile or Secret looks again.
        metrics_port: Prometheus metrics port (0 turns the endpoint off).
        active_deadline_seconds, backoff_limit, ttl_seconds_after_finished: RayJob lifecycle bounds.
    """

    model_config = SettingsConfigDict(env_prefix="MEDBATCH_", extra="ignore")

    job_image: str = RenderSettings.image
    ray_version: str = RenderSettings.ray_version
    poll_interval_s: float = Field(default=15.0, gt=0)
    retry_delay_s: float = Field(default=60.0, gt=0)
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    active_deadline_seconds: int = RenderSettings.active_deadline_seconds
    backoff_limit: int = RenderSettings.backoff_limit
    ttl_seconds_after_finished: int = RenderSettings.ttl_seconds_after_finished

    def render_settings(self) -> RenderSettings:
        """The rendering defaults these settings imply."""
        return RenderSettings(
            image=self.job_image,
            ray_version=self.ray_version,
            active_deadline_seconds=self.active_deadline_seconds,
            backoff_limit=self.backoff_limit,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
        )
