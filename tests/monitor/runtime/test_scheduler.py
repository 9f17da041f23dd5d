"""The probe scheduler: slots, spread, no overlap, reloads, canaries first and never queued."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)

from monitor import config
from monitor.runtime.daemon import scheduled_checks
from monitor.runtime.runner import check_from_target
from monitor.runtime.scheduler import (
    COALESCE,
    ProbeScheduler,
    Scheduled,
    grid_point,
    slot_id,
    spread,
)

CONFIG = """vantage:
  name: unit
  canaries: [{kind: tcp, target: "127.0.0.1:1", id: c1, interval: 30s}]
scheduler: {max_concurrency: 1}
services:
""" + "".join(
    f'  - {{name: s{i}, checks: [{{kind: tcp, target: "127.0.0.1:1", id: t, interval: 30s}}]}}\n'
    for i in range(60)
    if spread(f"s{i}/t", 30) > 1  # not due before the scheduler has even started
)


async def test_canaries_take_the_first_slot_and_skip_the_cap(tmp_path: Path) -> None:
    cfg = config.parse(CONFIG, "config.yaml", tmp_path)
    items = scheduled_checks(cfg)
    assert items[0].first and not any(i.first for i in items[1:])
    ran: list[str] = []
    hold, held = asyncio.Event(), asyncio.Event()

    async def run(item: Scheduled, at: datetime) -> None:
        ran.append(item.key)
        if not item.first:
            held.set()
            await hold.wait()  # a target holding the only slot

    sched = ProbeScheduler(run, cfg.scheduler.max_concurrency)
    sched.apply(items)
    sched.start()
    try:
        canary = sched.next_run("_vantage/c1")
        targets = [sched.next_run(i.key) for i in items[1:]]
        assert canary is not None and all(t is not None and canary <= t for t in targets)
        # the cap is taken by a target; the canary runs anyway
        sched.set_interval(items[1].key, 0.05)
        sched.set_interval("_vantage/c1", 0.05)
        async with asyncio.timeout(5):
            await held.wait()
            before = ran.count("_vantage/c1")
            while ran.count("_vantage/c1") < before + 2:
                await asyncio.sleep(0.01)
    finally:
        hold.set()
        await sched.stop(1)


@pytest.mark.parametrize(
    ("interval", "a", "b", "same"),
    [
        (3.0, 0, 150, True),  # 150 grid points of 20 ms: one interval later
        (3.0, 7, 7 + 450, True),  # three intervals later
        (3.0, 0, 1, False),  # 20 ms apart
        (3.0, 149, 150, False),
        (0.05, 0, 5, True),  # 100 ms: two runs of 50 ms later
        (0.05, 0, 1, False),  # 20 ms is no multiple of 50 ms
        (0.05, 0, 10, True),
        (2.5, 3, 3 + 125, True),
        (30.0, 0, 1500, True),
    ],
)
def test_checks_whose_runs_coincide_share_a_slot(
    interval: float, a: int, b: int, same: bool
) -> None:
    assert (slot_id(interval, a) == slot_id(interval, b)) is same


def test_a_slot_is_per_interval() -> None:
    assert slot_id(3.0, 0) != slot_id(30.0, 0)
    assert slot_id(3.0, 0) != slot_id(6.0, 0)


@pytest.mark.parametrize(
    ("ts", "point"),
    [
        (1000.0, 50_000),
        (1000.001, 50_001),
        (1000.02, 50_001),
        (1000.021, 50_002),
        (1e9 + 0.06, 5e10 + 3),
    ],
)
def test_grid_point_is_the_next_grid_instant(ts: float, point: int) -> None:
    assert grid_point(ts) == point


def check(interval: float, timeout: float = 0.01) -> Any:
    return check_from_target("127.0.0.1:1", timeout).model_copy(update={"interval": interval})


def job_ids(sched: ProbeScheduler) -> set[str]:
    return {job.id for job in sched._sched.get_jobs()}


async def test_first_runs_keep_their_spread_and_share_slots() -> None:
    async def run(item: Scheduled, at: datetime) -> None:
        pass

    items = [Scheduled(f"s{i}", check(3.0)) for i in range(600)]
    sched = ProbeScheduler(run, 10)
    before = time.time()
    sched.apply(items)
    sched.start()
    after = time.time()
    try:
        slots = {sched.slot(i.key) for i in items}
        assert job_ids(sched) == slots and len(slots) <= 3.0 / COALESCE
        for item in items:
            offset = spread(item.key, 3.0)
            when = sched.next_run(item.key)
            assert when is not None
            if offset > after - before + COALESCE:  # not already run once
                assert before + offset <= when.timestamp() <= after + offset + COALESCE
    finally:
        await sched.stop(1)


@pytest.mark.parametrize("first", [False, True])
async def test_a_check_still_running_loses_its_turns_and_they_are_counted(first: bool) -> None:
    starts: list[str] = []
    release = asyncio.Event()

    async def run(item: Scheduled, at: datetime) -> None:
        starts.append(item.key)
        if item.service == "slow":
            await release.wait()

    slow = Scheduled("slow", check(30.0), first=first)
    quick = Scheduled("quick", check(30.0))
    sched = ProbeScheduler(run, 5)
    sched.apply([slow, quick])
    sched.start()
    try:
        sched.set_interval(slow.key, 0.05)
        sched.set_interval(quick.key, 0.05)
        async with asyncio.timeout(10):
            while sched.skipped < 3:
                await asyncio.sleep(0.01)
            # each lost turn of the slow one is one skip; the quick one never lost any
            assert starts.count(slow.key) == 1
            assert sched.skipped >= 3 and starts.count(quick.key) >= 1
            release.set()
            while starts.count(slow.key) < 2:  # it runs again once its last run is over
                await asyncio.sleep(0.01)
        assert sched.lateness.count == len(starts)  # each start measured against its run time
    finally:
        release.set()
        await sched.stop(1)


@pytest.mark.parametrize(
    ("old", "new", "moves"),
    [
        ({"interval": 30.0}, {"interval": 10.0}, True),
        ({"interval": 10.0}, {"interval": 30.0}, True),
        ({"interval": 30.0}, {"timeout": 0.02}, False),  # changed, same interval: same slot
        ({"interval": 30.0}, {}, False),  # unchanged
    ],
)
async def test_a_reload_moves_a_check_to_the_slot_of_its_interval(
    old: dict[str, float], new: dict[str, float], moves: bool
) -> None:
    async def run(item: Scheduled, at: datetime) -> None:
        pass

    first = check(30.0).model_copy(update=old)
    item, other = Scheduled("a", first), Scheduled("b", check(30.0))
    sched = ProbeScheduler(run, 5)
    assert sched.apply([item, other]) == (2, 0, 0)
    sched.start()
    try:
        was, other_slot = sched.slot(item.key), sched.slot(other.key)
        changed = Scheduled("a", first.model_copy(update=new))
        assert sched.apply([changed, other]) == (0, 0, int(changed.check != first))
        now = sched.slot(item.key)
        assert now is not None and (now != was) is moves
        assert now.startswith(f"{changed.check.interval!r}s@")
        assert sched.interval(item.key) == changed.check.interval
        assert sched.slot(other.key) == other_slot  # the others keep their schedule
        assert job_ids(sched) == {now, other_slot}  # an emptied slot's job is gone
        assert sched.apply([other]) == (0, 1, 0)
        assert sched.slot(item.key) is None and job_ids(sched) == {other_slot}
    finally:
        await sched.stop(1)


async def test_a_reloaded_check_runs_with_its_new_settings() -> None:
    seen: list[float] = []

    async def run(item: Scheduled, at: datetime) -> None:
        seen.append(item.check.timeout)

    item = Scheduled("a", check(0.05))
    sched = ProbeScheduler(run, 5)
    sched.apply([item])
    sched.start()
    try:
        async with asyncio.timeout(10):
            while not seen:
                await asyncio.sleep(0.01)
            sched.apply([Scheduled("a", check(0.05, timeout=0.02))])
            while seen[-1] != 0.02:
                await asyncio.sleep(0.01)
    finally:
        await sched.stop(1)


async def test_stop_cancels_runs_past_the_grace() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def run(item: Scheduled, at: datetime) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sched = ProbeScheduler(run, 5)
    sched.apply([Scheduled("a", check(0.05))])
    sched.start()
    async with asyncio.timeout(10):
        await started.wait()
        await sched.stop(0.01)
    assert cancelled.is_set()


@pytest.mark.parametrize(
    ("code", "at", "lost"),
    [
        (EVENT_JOB_MISSED, 10.0, 50),  # each check of a missed slot lost its run
        (EVENT_JOB_MAX_INSTANCES, 10.0, 50),
        (EVENT_JOB_MISSED, -10.0, 0),  # before any check's first run: nothing was due
    ],
)
async def test_a_slot_not_run_counts_each_check_it_held(code: int, at: float, lost: int) -> None:
    async def run(item: Scheduled, at: datetime) -> None:
        pass

    sched = ProbeScheduler(run, 5)
    sched.apply([Scheduled(f"s{i}", check(3.0)) for i in range(50)])
    when = datetime.fromtimestamp(time.time() + at, UTC)
    for sid in job_ids(sched):
        if code == EVENT_JOB_MISSED:
            sched._on_skip(JobExecutionEvent(code, sid, "default", when))
        else:
            sched._on_skip(JobSubmissionEvent(code, sid, "default", [when]))
    assert sched.skipped == lost


async def test_the_cap_holds_for_targets() -> None:
    active, most, runs = 0, 0, 0

    async def run(item: Scheduled, at: datetime) -> None:
        nonlocal active, most, runs
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.03)
        active -= 1
        runs += 1

    sched = ProbeScheduler(run, 2)
    sched.apply([Scheduled(f"s{i}", check(30.0)) for i in range(6)])
    sched.start()
    try:
        for i in range(6):
            sched.set_interval(f"s{i}/tcp:127.0.0.1:1", 0.05)
        async with asyncio.timeout(10):
            while runs < 12:
                await asyncio.sleep(0.01)
        assert 1 <= most <= 2
    finally:
        await sched.stop(1)
