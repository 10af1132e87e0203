"""The job-level failure (messages built with ``medbatch.notes.errors.safe_error`` rules: no note text)."""

from __future__ import annotations


class JobError(RuntimeError):
    """The job cannot run at all (bad source, unusable output, missing key). The message is safe to show."""
