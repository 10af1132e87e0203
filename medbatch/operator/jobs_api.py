"""Run a Corpus on an existing RayCluster through the Ray Jobs REST API (the ``spec.ray`` runner).

Plain HTTP, so the operator image needs no Ray. Submissions are idempotent: the submission id derives from
the Corpus uid, and submitting an id that exists returns the existing job instead of starting a second.
The Corpus and ModelProfile travel inline in the entrypoint (base64 YAML), so the cluster needs no shared
files; credentials come from the cluster's own environment or the runtime_env the caller passes.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import yaml
from pydantic import BaseModel

from medbatch.spec import Corpus, ModelProfile
from medbatch.spec.run_files import entrypoint_command

# Ray Jobs API statuses.
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


class JobInfo(BaseModel):
    """What the Jobs API says about one submission (the fields medbatch uses)."""

    submission_id: str
    status: str
    message: str | None = None
    start_time: int | None = None
    end_time: int | None = None


class JobsApiError(RuntimeError):
    """The Jobs API refused a request; the message holds the HTTP status and a fixed phrase.

    Never the response body: it is the server's text (a misdirected request could fetch anything), and this
    message reaches the Corpus status and Events.
    """


def submission_id_for(uid: str) -> str:
    """The submission id of a Corpus: stable across operator restarts, unique per Corpus object."""
    return f"medbatch-{uid}"


def _inline(document: dict[str, Any]) -> str:
    return base64.b64encode(yaml.safe_dump(document, sort_keys=False).encode()).decode()


def entrypoint_for(corpus: Corpus, profile: ModelProfile, python: str = "python") -> str:
    """The entrypoint command running ``corpus`` with ``profile`` on the cluster."""
    return entrypoint_command(
        f"--corpus-inline {_inline(corpus.document())}",
        f"--profile-inline {_inline(profile.document())}",
        python,
    )


class RayJobsClient:
    """A small client for the Ray Jobs REST API.

    Args:
        address: the dashboard address, e.g. http://raycluster-head-svc:8265.
        token: a Ray auth token (clusters with token authentication, the default since Ray 2.5x).
        timeout_s: per-request timeout.
        retry_for_s: how long a submission retries "try again later" (5xx) answers.
        verify: for an https address, the CA bundle to verify the head's certificate with (a path), or
            True for the system's.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        address: str,
        token: str | None = None,
        timeout_s: float = 30.0,
        retry_for_s: float = 60.0,
        verify: str | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry_for_s = retry_for_s
        self.address = address.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=address.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            verify=verify,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise JobsApiError(f"the Ray Jobs API refused the request (HTTP {response.status_code})")
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise JobsApiError("the Ray Jobs API answered something that is not JSON") from None
        return body

    def status(self, submission_id: str) -> JobInfo | None:
        """The job's state, or None when no job has this submission id."""
        response = self._http.get(f"/api/jobs/{submission_id}")
        if response.status_code == 404:
            return None
        return JobInfo.model_validate(self._check(response))

    def submit(
        self,
        submission_id: str,
        entrypoint: str,
        runtime_env: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> JobInfo:
        """Submit once: an existing submission with this id is returned as it is."""
        existing = self.status(submission_id)
        if existing is not None:
            return existing
        payload: dict[str, Any] = {
            "entrypoint": entrypoint,
            "submission_id": submission_id,
            "metadata": metadata or {},
        }
        if runtime_env:
            payload["runtime_env"] = runtime_env
        try:
            response = self._post_when_ready("/api/jobs/", payload)
        except httpx.TimeoutException:
            # The server may have accepted it anyway (it creates the job before answering): look, don't resubmit.
            found = self.status(submission_id)
            if found is not None:
                return found
            raise JobsApiError(f"submitting {submission_id} timed out; it will be retried") from None
        if response.status_code >= 400 and "already exists" in response.text:
            found = self.status(submission_id)  # a concurrent submit won the race
            if found is not None:
                return found
        self._check(response)
        found = self.status(submission_id)
        if found is None:
            raise JobsApiError(f"submitted {submission_id} but the Jobs API does not know it")
        return found

    def _post_when_ready(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        """POST, retrying 5xx answers with backoff for up to ``retry_for_s``.

        A fresh head answers 500 "No available agent to submit job, please try again later" until its job
        agent has registered; a busy one may answer 503.
        """
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.25
        while True:
            response = self._http.post(path, json=payload)
            if response.status_code < 500 or time.monotonic() + delay > deadline:
                return response
            time.sleep(delay)  # backoff between attempts, not a stand-in for synchronization
            delay = min(delay * 2, 5.0)

    def stop(self, submission_id: str) -> bool:
        """Ask the cluster to stop the job; False when it had already finished or does not exist."""
        response = self._http.post(f"/api/jobs/{submission_id}/stop")
        if response.status_code == 404:
            return False
        return bool(self._check(response).get("stopped", False))
