"""A bounded window of notes in flight, shared by everyone who feeds one engine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from medbatch.notes.engine import Engine
from medbatch.spec import LimitsSpec

T = TypeVar("T")
R = TypeVar("R")

# Notes in flight per request the engine runs at once: twice keeps it full while finished notes leave.
WINDOW_PER_CAPACITY = 2


class Window:
    """At most ``size`` notes in flight; a new one starts the moment one finishes.

    One window per engine replica, shared by the shards (or requests) it serves, so the engine always has
    work queued and memory stays bounded however many notes wait. Sized from the engine's capacity:
    about twice the requests it runs at once keeps it full while finished notes are written out.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one note")
        self.size = size
        self.in_flight = 0
        self.most_in_flight = 0
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def for_engine(cls, engine: Engine, limits: LimitsSpec) -> Window:
        """The window a replica keeps: twice the engine's capacity, at most ``limits.batch_size``."""
        return cls(min(limits.batch_size, WINDOW_PER_CAPACITY * engine.capacity))

    async def run(self, work: Callable[[], Awaitable[R]]) -> R:
        """Run ``work`` once a slot is free."""
        if self._slots is None:  # made in the loop that uses it
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                return await work()
            finally:
                self.in_flight -= 1

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` through the window; results in the order of ``items``."""

        async def one(item: T) -> R:
            return await self.run(lambda: fn(item))

        return list(await asyncio.gather(*(one(item) for item in items)))
