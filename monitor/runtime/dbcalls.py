"""Calls to the fleet's database bounded in time: a late call is abandoned, never waited for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from monitor.store import fleet as q

T = TypeVar("T")


class Calls:
    """Runs database calls within a time bound and keeps the abandoned ones until they end."""

    def __init__(self) -> None:
        self.orphans: set[asyncio.Future[Any]] = set()  # timed-out calls still winding down

    async def within(self, coro: Coroutine[Any, Any, T], seconds: float) -> T:
        """Await `coro` for at most `seconds`, without waiting for it to wind down after that
        (cancelling a query on a dead link can itself take long; the caller must act now)."""
        task = asyncio.ensure_future(coro)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            # not cancelled: psycopg would send a cancel request over the same dead link and
            # wait; the caller closes the connection instead, which ends the call at once
            self.orphans.add(task)
            task.add_done_callback(_forget(self.orphans))
            raise TimeoutError(f"no answer from the database in {seconds:g}s")
        return task.result()

    def cancel_all(self) -> None:
        """Cancel the calls still winding down (at shutdown)."""
        for orphan in list(self.orphans):
            orphan.cancel()


def _forget(orphans: set[asyncio.Future[Any]]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        orphans.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late failure of an abandoned call is expected

    return done


async def close_quietly(conn: q.Conn) -> None:
    """Close a connection, whatever state it is in."""
    with contextlib.suppress(Exception):
        await conn.close()
