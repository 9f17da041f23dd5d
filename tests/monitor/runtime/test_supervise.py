"""The supervisor: a bad iteration is counted, a stalled loop is not live, cancellation stops."""

from __future__ import annotations

import asyncio

from monitor.core.base import FakeClock
from monitor.runtime.supervise import Supervisor


async def test_a_failing_iteration_is_counted_and_the_loop_goes_on() -> None:
    sup, runs = Supervisor(FakeClock()), []

    async def step() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("once")

    sup.every("flush", step, 0)
    while len(runs) < 3:
        await asyncio.sleep(0)
    (h,) = sup.health()
    assert (h.name, h.alive, h.live, h.errors) == ("flush", True, True, 1)
    await sup.stop()
    assert sup.health() == []


async def test_a_stalled_loop_is_not_live_and_stop_cancels_it() -> None:
    clock, hung = FakeClock(), asyncio.Event()
    sup = Supervisor(clock)

    async def step() -> None:
        hung.set()
        await asyncio.Event().wait()  # never finishes

    sup.every("alerts-evaluate", step, 0)
    await hung.wait()
    clock.mono += 61  # past the stall limit without a finished iteration
    (h,) = sup.health()
    assert h.alive and not h.live
    await asyncio.wait_for(sup.stop(), 1)  # CancelledError is never swallowed


async def test_a_cancelled_step_ends_the_loop() -> None:
    sup = Supervisor(FakeClock())

    async def step() -> None:
        raise asyncio.CancelledError

    sup.every("watch", step, 0)
    for _ in range(5):
        await asyncio.sleep(0)
    (h,) = sup.health()
    assert not h.alive and not h.live


async def test_a_watched_loop_that_ended_is_reported_dead() -> None:
    sup = Supervisor(FakeClock())
    task: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
    sup.watch("alerts-groups", task, lambda: None, 60)
    await task
    assert not sup.health()[0].alive
    await sup.stop()  # a watched loop belongs to its owner: not cancelled, just forgotten
    assert sup.health() == []
