"""Error messages that are safe to write to logs, error columns, status and events.

Library exceptions often quote the data they choked on (a CSV row, a JSON fragment, undecodable bytes),
which for us is note text. So the message we keep is ours: what failed and the exception type, never
``str(exc)``.
"""

from __future__ import annotations


def safe_error(what: str, exc: BaseException) -> str:
    """``what`` failed, with the exception's type and nothing of its message."""
    return f"{what} ({type(exc).__name__})"
