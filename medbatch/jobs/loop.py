"""An asyncio event loop in a thread of its own, for synchronous callers (Ray Data's actor calls)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """One event loop per worker: every shard the worker runs submits its notes to it, so they share one
    engine and one window of notes in flight."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="medbatch-notes", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (raises what it raises)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()
