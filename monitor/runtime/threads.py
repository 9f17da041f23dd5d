"""Blocking calls that must never hold the process open at exit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(fn: Callable[[], T], name: str) -> T:
    """`await fn()` run on its own daemon thread.

    asyncio.to_thread uses the loop's executor, whose threads are joined at exit: a call stuck
    on a file that never answers (a FIFO, a hung network mount) would then keep a stopped
    daemon alive. A daemon thread is abandoned instead; cancelling the await abandons it too.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if future.done():
            return  # cancelled meanwhile
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, exc = fn(), None
        except BaseException as error:  # handed to the awaiting task, which decides
            result, exc = None, error
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(settle, result, exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
