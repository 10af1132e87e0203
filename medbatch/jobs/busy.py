"""Measure how long an engine is busy when several shards call it concurrently.

Busy time is the union of the intervals during which at least one engine call runs, so two overlapping
calls count once. Engine utilization = busy time / wall time, per engine replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class BusyClock:
    """Accumulates wall time during which at least one ``busy()`` block is active."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self._total = 0.0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark the engine busy for the duration of the block."""
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._total += time.perf_counter() - self._since

    def take(self) -> float:
        """Busy seconds accumulated since the previous ``take`` (completed intervals only)."""
        with self._lock:
            total, self._total = self._total, 0.0
        return total
