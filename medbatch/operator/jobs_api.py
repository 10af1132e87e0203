"""Run a Corpus on an existing RayCluster through the Ray Jobs REST API (the ``spec.ray`` runner).

Plain HTTP, so the operator image needs no Ray. Submissions are idempotent: the submission id derives from
the Corpus uid, and submitting an id that exists returns the existing job instead of starting a second.

The Corpus and ModelProfile reach the job as files in its working directory, uploaded to the cluster's
own store first (what ``ray job submit --working-dir`` does), not in the entrypoint: Ray shows every
job's entrypoint, runtime environment and metadata on its dashboard, to everyone who holds a shared
cluster's token, and a spec names the tenant's buckets and prefixes. The dashboard shows only the package's
random name. Credentials come from the cluster's own environment, never through the Jobs API.
"""

from __future__ import annotations

import io
import secrets
import time
import zipfile
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel

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


def working_dir_package(files: Mapping[str, str]) -> tuple[str, bytes]:
    """``files`` (name to text) as a Ray working-directory package: its name and its zip bytes.

    The name is random, not Ray's content hash: a hash of a spec would let whoever reads the dashboard
    confirm a guessed bucket layout.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return f"_ray_pkg_{secrets.token_hex(16)}.zip", buffer.getvalue()


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

    @staticmethod
    def _accepted(response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise JobsApiError(f"the Ray Jobs API refused the request (HTTP {response.status_code})")

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        self._accepted(response)
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
        working_dir: Mapping[str, str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> JobInfo:
        """Submit once: an existing submission with this id is returned as it is.

        Args:
            working_dir: files (name to text) the job finds in its working directory; uploaded first.
        """
        existing = self.status(submission_id)
        if existing is not None:
            return existing
        payload: dict[str, Any] = {
            "entrypoint": entrypoint,
            "submission_id": submission_id,
            "metadata": metadata or {},
        }
        if working_dir is not None:
            payload["runtime_env"] = {"working_dir": self._upload(*working_dir_package(working_dir))}
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

    def _upload(self, name: str, data: bytes) -> str:
        """Put a package into the cluster's store (its GCS); returns the URI a runtime_env names it by."""
        path = f"/api/packages/gcs/{name}"
        # Asking whether a package exists pins its name for some minutes (Ray collects packages no job
        # uses), so an upload is not collected before the submission that names it arrives.
        self._http.get(path)
        self._accepted(self._http.put(path, content=data))
        return f"gcs://{name}"

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
