"""The daemon's long-lived loops: each iteration guarded, each one's liveness known, one owner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from monitor.core.base import Clock
from monitor.web.base import LoopHealth

log = logging.getLogger("outwatch.supervise")

RESTART_MAX = 60.0  # the longest wait before a long-running loop that ended is started again


def stall_limit(interval: float) -> float:
    """How long a loop may go without finishing an iteration before it counts as stalled."""
    return max(60.0, 10 * interval)


@dataclass
class _Loop:
    name: str
    stall_after: float | None  # None: alive while its task runs (it reports no iterations)
    task: asyncio.Task[None] | None = None
    errors: int = 0
    beat: float = 0.0  # monotonic time of the last finished iteration (or start)
    beat_at: float = 0.0  # the same instant as unix time, for the metric


class Supervisor:
    """Starts, keeps and cancels the loops; an unexpected error ends one iteration, never a loop."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._loops: dict[str, _Loop] = {}
        self._watched: dict[str, tuple[asyncio.Task[Any], Callable[[], float | None]]] = {}

    def every(
        self,
        name: str,
        step: Callable[[], Awaitable[None]],
        interval: float,
        stall_after: float | None = None,
    ) -> None:
        """Run `step` every `interval` seconds until stopped."""
        loop = self._add(name, stall_after or stall_limit(interval))
        loop.task = asyncio.create_task(self._every(loop, step, interval), name=name)

    def keep(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Keep a long-running coroutine running: started again (with backoff) if it ends."""
        loop = self._add(name, None)
        loop.task = asyncio.create_task(self._keep(loop, run), name=name)

    def watch(
        self, name: str, task: asyncio.Task[Any], beat: Callable[[], float | None], stall: float
    ) -> None:
        """Report on a loop another component owns and runs (its task, its last beat)."""
        self._add(name, stall)
        self._watched[name] = (task, beat)

    def _add(self, name: str, stall_after: float | None) -> _Loop:
        if name in self._loops:
            raise ValueError(f"loop {name} is already running")
        now = self.clock.monotonic()
        loop = _Loop(name, stall_after, beat=now, beat_at=self.clock.now().timestamp())
        self._loops[name] = loop
        return loop

    async def _every(self, loop: _Loop, step: Callable[[], Awaitable[None]], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._guarded(loop, step)

    async def _keep(self, loop: _Loop, run: Callable[[], Awaitable[None]]) -> None:
        delay = 1.0
        while True:
            await self._guarded(loop, run)
            log.error("loop %s ended; starting it again in %.0fs", loop.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    async def _guarded(self, loop: _Loop, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except Exception as exc:  # CancelledError is not an Exception: stop() still stops it
            loop.errors += 1
            log.error("loop %s: iteration failed: %s: %s", loop.name, type(exc).__name__, exc)
            log.debug("loop %s: iteration failed", loop.name, exc_info=True)
        loop.beat = self.clock.monotonic()
        loop.beat_at = self.clock.now().timestamp()

    def health(self) -> list[LoopHealth]:
        """Each loop's liveness now, in start order."""
        now = self.clock.monotonic()
        out = []
        for loop in self._loops.values():
            task, beat = loop.task, loop.beat
            if loop.name in self._watched:
                task, source = self._watched[loop.name]
                seen = source()
                if seen is not None and seen > beat:
                    loop.beat_at += seen - beat
                    loop.beat = beat = seen
            alive = task is not None and not task.done()
            stalled = loop.stall_after is not None and now - beat > loop.stall_after
            out.append(
                LoopHealth(loop.name, alive, alive and not stalled, loop.beat_at, loop.errors)
            )
        return out

    async def stop(self, names: Collection[str] | None = None) -> None:
        """Cancel the named loops (all by default) and wait for them; what they raised is logged,
        never dropped."""
        chosen = [n for n in self._loops if names is None or n in names]
        tasks = [t for n in chosen if (t := self._loops[n].task) is not None]
        for n in chosen:
            del self._loops[n]
            self._watched.pop(n, None)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error(
                    "loop %s had failed: %s: %s", task.get_name(), type(result).__name__, result
                )
