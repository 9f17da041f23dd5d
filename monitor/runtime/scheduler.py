"""Runs each check at its interval with APScheduler: spread first runs, no overlap, capped concurrency.

APScheduler holds one job per *slot* (an interval and a point of the COALESCE grid within it);
a slot's wake-up starts every check placed in it, so APScheduler's cost is paid per wake-up,
not per probe (it was the largest Python cost of a probe when each check was its own job).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.core.stats import Histogram

log = logging.getLogger("outwatch.scheduler")
# Runs are placed on this grid (ms), so checks due close together share one slot and one
# scheduler wake-up: at 200 probes/s a wake-up costs more than a probe.
GRID_MS = 20
COALESCE = GRID_MS / 1000
# uvloop's timers round to whole ms from the loop's cached clock and fired up to ~1.2 ms before
# the slot was due: a second, empty pass over the jobs for about a third of the wake-ups
_TIMER_SLACK_MS = 1
# a check placed in a slot waits for a wake-up at or after its own first run (float slack)
_SLACK = 0.001
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Scheduled:
    """One check to run: which service it belongs to, and the validated check itself."""

    service: str
    check: Any  # a monitor.config check model
    first: bool = False  # a vantage canary: runs at the start of each round, never queued

    @property
    def key(self) -> str:
        """Stable identity used for spreading, sharding and the scheduler's bookkeeping."""
        return f"{self.service}/{self.check.id}"


RunFn = Callable[[Scheduled, datetime], Awaitable[None]]


def spread(key: str, interval: float) -> float:
    """A stable offset in [0, interval) so first runs are spread, not all at start-up."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") / 2**64) * interval


def in_shard(key: str, index: int, total: int) -> bool:
    """Whether a check belongs to shard `index` of `total` (stable across restarts and hosts)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % total == index


def grid_point(ts: float) -> int:
    """The first grid point (in GRID_MS units since the epoch) at or after unix time `ts`."""
    return math.ceil(round(ts * 1000 / GRID_MS, 6))  # a point given exactly stays itself


def slot_id(interval: float, point: int) -> str:
    """The slot of a check that runs every `interval` s, one run at grid point `point`: checks
    whose runs fall on the same instants share it."""
    every = max(1, round(interval * 1000))
    return f"{interval!r}s@{point * GRID_MS % every}ms"


@dataclass(slots=True)
class _Slot:
    """One APScheduler job: the checks run at the same instants, canaries apart so they go first."""

    interval: float
    start: float  # unix time of one of its runs, for the due time of a wake-up
    first: dict[str, Scheduled] = field(default_factory=dict)
    rest: dict[str, Scheduled] = field(default_factory=dict)
    # checks placed here that have not had their first run yet: (check, unix time of that run)
    waiting: dict[str, tuple[Scheduled, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.first) + len(self.rest) + len(self.waiting)

    def admit(self, due: float) -> None:
        """Move the waiting checks whose first run is `due` (or earlier) into the rounds."""
        for key, (item, start) in list(self.waiting.items()):
            if start <= due + _SLACK:
                del self.waiting[key]
                (self.first if item.first else self.rest)[key] = item

    def due_count(self, due: float) -> int:
        """How many checks the wake-up due at `due` would have started."""
        later = sum(1 for _, start in self.waiting.values() if start > due + _SLACK)
        return len(self) - later

    def discard(self, key: str) -> None:
        """Take a check out of this slot."""
        self.first.pop(key, None)
        self.rest.pop(key, None)
        self.waiting.pop(key, None)


class _InLoop(BaseExecutor):
    """Runs a slot's wake-up as a plain loop callback: it only starts the checks' tasks, so the
    executor's own task, coroutine and done-callback per wake-up are not needed."""

    def start(self, scheduler: Any, alias: str) -> None:
        """Keep the scheduler's event loop."""
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # after submit_job has counted the instance, as for the stock executors
        self._loop.call_soon(self._run, job, run_times)

    def _run(self, job: Any, run_times: list[datetime]) -> None:
        events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
        self._run_job_success(job.id, events)


class _Scheduler(AsyncIOScheduler):
    """AsyncIOScheduler whose timer fires once a slot is due, not just before it, and calls the
    wake-up straight from the loop (the stock one hops through call_soon_threadsafe, a syscall)."""

    def _start_timer(self, wait_seconds: float | None) -> None:  # APScheduler 3.x's hook
        self._stop_timer()
        if wait_seconds is not None:
            delay = (math.ceil(wait_seconds * 1000) + _TIMER_SLACK_MS) / 1000 if wait_seconds else 0
            self._timeout = self._eventloop.call_later(delay, self._wakeup_in_loop)

    def _wakeup_in_loop(self) -> None:
        # the body of AsyncIOScheduler.wakeup, already on the loop's thread
        self._stop_timer()
        self._start_timer(self._process_jobs())


class ProbeScheduler:
    """Owns the APScheduler and its slot jobs; the run function does the probing."""

    def __init__(self, run: RunFn, max_concurrency: int) -> None:
        self._run = run
        self.max_concurrency = max_concurrency
        self._sem = asyncio.Semaphore(max_concurrency)
        self._sched = _Scheduler(
            timezone=UTC, job_defaults={"coalesce": True}, executors={"default": _InLoop()}
        )
        self._items: dict[str, Scheduled] = {}
        self._intervals: dict[str, float] = {}
        self._slot_of: dict[str, str] = {}  # check key -> id of its slot
        self._slots: dict[str, _Slot] = {}  # slot id (= APScheduler job id) -> its checks
        self._running: dict[str, asyncio.Task[None]] = {}  # the one run of a check in flight
        self._stopping = False
        self.skipped = 0  # runs not made: the previous run still going, or missed entirely
        self.lateness = Histogram(LATENESS_BUCKETS)
        self._sched.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        # APScheduler logs every missed run; we count them in a metric instead
        logging.getLogger("apscheduler").setLevel(logging.ERROR)

    def _on_skip(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        # the slot's wake-up did not happen: each check in it lost its run, as when each check
        # was its own job
        slot = self._slots.get(event.job_id)
        if slot is None:
            return
        when = getattr(event, "scheduled_run_time", None) or event.scheduled_run_times[-1]
        self.skipped += slot.due_count(when.timestamp())

    def start(self) -> None:
        """Start the scheduler (checks may be added before or after)."""
        self._stopping = False
        self._sched.start()
        # a canary's first run may have passed while the rest were added: the round starts now
        for key, item in self._items.items():
            if item.first:
                self._place(key, self._intervals[key], COALESCE)

    def apply(self, items: Iterable[Scheduled]) -> tuple[int, int, int]:
        """Make the scheduled set equal to `items`; unchanged checks keep their schedule. (added, removed, changed)."""
        wanted = {i.key: i for i in items}
        removed = [k for k in self._items if k not in wanted]
        for key in removed:
            self._remove(key)
        added = changed = 0
        for key, item in wanted.items():
            old = self._items.get(key)
            if old is None:
                self._items[key] = item
                self._place(key, item.check.interval, self._offset(item, item.check.interval))
                added += 1
            elif old.check != item.check:
                self._items[key] = item
                self._replace(key, item)
                if old.check.interval != item.check.interval:
                    self.set_interval(key, item.check.interval)
                changed += 1
        return added, len(removed), changed

    def set_max_concurrency(self, limit: int) -> None:
        """Cap concurrent probes at `limit` from now on (a reload); runs in flight finish under
        the old cap, so for one round the two together may exceed the new one."""
        if limit != self.max_concurrency:
            self.max_concurrency = limit
            self._sem = asyncio.Semaphore(limit)

    @staticmethod
    def _offset(item: Scheduled, interval: float) -> float:
        # canaries take the first slot of each round, so the vantage is judged offline before
        # the targets' failures of the same round open outages
        return COALESCE if item.first else spread(item.key, interval)

    def _place(self, key: str, interval: float, offset: float) -> None:
        """Put a check in the slot of its interval whose runs include its first, now + offset."""
        point = grid_point(time.time() + offset)
        sid = slot_id(interval, point)
        self._intervals[key] = interval
        old = self._slot_of.get(key)
        if old is not None:
            self._leave(key, old)
        slot = self._slots.get(sid)
        start = point * GRID_MS / 1000
        if slot is None:
            slot = self._slots[sid] = _Slot(interval, start)
            self._add_job(sid, slot, point)
        slot.waiting[key] = (self._items[key], start)
        self._slot_of[key] = sid

    def _add_job(self, sid: str, slot: _Slot, point: int) -> None:
        first = _EPOCH + timedelta(milliseconds=point * GRID_MS)
        trigger = IntervalTrigger(seconds=slot.interval, start_date=first, timezone=UTC)
        self._sched.add_job(
            self._wake,
            trigger,
            args=[sid],
            id=sid,
            max_instances=1,
            misfire_grace_time=max(1, int(slot.interval)),
        )

    def _replace(self, key: str, item: Scheduled) -> None:
        slot = self._slots[self._slot_of[key]]
        for members in (slot.first, slot.rest):
            if key in members:
                members[key] = item
        if key in slot.waiting:
            slot.waiting[key] = (item, slot.waiting[key][1])

    def _leave(self, key: str, sid: str) -> None:
        slot = self._slots[sid]
        slot.discard(key)
        if not slot:
            del self._slots[sid]
            self._sched.remove_job(sid)

    def _remove(self, key: str) -> None:
        # a run in flight finishes and still blocks a re-added twin until then (no overlap)
        self._items.pop(key, None)
        self._intervals.pop(key, None)
        sid = self._slot_of.pop(key, None)
        if sid is not None:
            self._leave(key, sid)

    def set_interval(self, key: str, interval: float) -> None:
        """Run a check at another interval from now on (boost or config change)."""
        if key not in self._items or self._intervals.get(key) == interval:
            return
        self._place(key, interval, min(interval, self._offset(self._items[key], interval)))

    def interval(self, key: str) -> float | None:
        """The interval a check currently runs at."""
        return self._intervals.get(key)

    def intervals(self) -> dict[str, float]:
        """The interval each check currently runs at, by key."""
        return dict(self._intervals)

    def slot(self, key: str) -> str | None:
        """The id of the slot (APScheduler job) a check runs in."""
        return self._slot_of.get(key)

    def next_run(self, key: str) -> datetime | None:
        """When a check runs next (None before start() or when not scheduled)."""
        sid = self._slot_of.get(key)
        job = self._sched.get_job(sid) if sid is not None else None
        when: datetime | None = getattr(job, "next_run_time", None)
        waiting = self._slots[sid].waiting.get(key) if sid is not None else None
        if when is not None and waiting is not None and waiting[1] > when.timestamp() + _SLACK:
            return datetime.fromtimestamp(waiting[1], UTC)
        return when

    def keys(self) -> list[str]:
        """Keys of all scheduled checks."""
        return list(self._items)

    def _wake(self, sid: str) -> None:
        """One wake-up of a slot: start each of its checks not still running its last turn."""
        slot = self._slots.get(sid)
        if slot is None or self._stopping:
            return
        now = time.time()
        # the run this wake-up is for (APScheduler runs only the latest of those it missed)
        due = now - (now - slot.start) % slot.interval
        if slot.waiting:
            slot.admit(due)
        running, loop = self._running, asyncio.get_running_loop()
        for members in (slot.first, slot.rest):  # canaries first
            for key, item in members.items():
                if key in running:  # no overlap: this turn is lost, as a busy job's was
                    self.skipped += 1
                else:
                    running[key] = loop.create_task(self._fire(key, item, due))

    async def _fire(self, key: str, item: Scheduled, due: float) -> None:
        # one coroutine per run, the cap taken by hand: this runs for every probe
        sem = None if item.first else self._sem  # a canary never waits behind the targets
        try:
            if sem is not None:
                await sem.acquire()
            try:
                now = time.time()
                # how late this check starts after its own run time (wake-up, backlog, the cap)
                self.lateness.observe(now - due)
                await self._run(item, datetime.fromtimestamp(now, UTC))
            finally:
                if sem is not None:
                    sem.release()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one run must never stop the schedule
            log.exception("probe run failed", extra={"check": key})
        finally:
            self._running.pop(key, None)

    async def stop(self, grace: float) -> None:
        """Stop scheduling, let in-flight probes finish within `grace`, then cancel the rest."""
        if not self._sched.running:
            return
        self._sched.pause()
        self._stopping = True  # a wake-up already handed to the loop starts nothing
        pending = set(self._running.values())
        if pending:
            await asyncio.wait(pending, timeout=grace)
        self._sched.shutdown(wait=False)
        still = [t for t in pending if not t.done()]
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
        self._running.clear()
