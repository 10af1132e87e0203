"""Why a Corpus cannot start: the one error every admission check and launch step raises."""

from __future__ import annotations


class LaunchError(Exception):
    """Why a Corpus cannot start (reason in CamelCase, message for a platform engineer, no note content).

    Args:
        retry: whether it may resolve itself (a ModelProfile or Secret created later, the platform
            widening a bound); otherwise only a corrected spec helps.
    """

    def __init__(self, reason: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.reason, self.message, self.retry = reason, message, retry
