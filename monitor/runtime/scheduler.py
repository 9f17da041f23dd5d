"""Runs each check at its interval with APScheduler: spread first runs, no overlap, capped concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.core.stats import Histogram

log = logging.getLogger("outwatch.scheduler")
# First runs are placed on this grid, so checks due close together share one scheduler wake-up:
# at 200 probes/s each wake-up costs more than a probe, and batching them cut CPU per probe ~40%.
COALESCE = 0.02
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Scheduled:
    """One check to run: which service it belongs to, and the validated check itself."""

    service: str
    check: Any  # a monitor.config check model
    first: bool = False  # a vantage canary: runs at the start of each round, never queued

    @property
    def key(self) -> str:
        """Stable identity used as the job id and for spreading."""
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


def _on_grid(when: datetime) -> datetime:
    ts = math.ceil(when.timestamp() / COALESCE) * COALESCE
    return datetime.fromtimestamp(ts, UTC)


class ProbeScheduler:
    """Owns the APScheduler and one job per check; the run function does the probing."""

    def __init__(self, run: RunFn, max_concurrency: int) -> None:
        self._run = run
        self.max_concurrency = max_concurrency
        self._sem = asyncio.Semaphore(max_concurrency)
        self._sched = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True})
        self._items: dict[str, Scheduled] = {}
        self._intervals: dict[str, float] = {}
        self._starts: dict[str, float] = {}  # unix time of each job's first slot, for lateness
        self._inflight: set[asyncio.Task[None]] = set()
        self._jobs: set[str] = set()  # ids of the jobs added to APScheduler
        self.skipped = 0  # slots not run: the previous run still going, or missed entirely
        self.lateness = Histogram(LATENESS_BUCKETS)
        self._sched.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        # APScheduler logs every skipped overlapping run; we count them in a metric instead
        logging.getLogger("apscheduler").setLevel(logging.ERROR)

    def _on_skip(self, event: JobEvent) -> None:
        self.skipped += 1

    def start(self) -> None:
        """Start the scheduler (jobs may be added before or after)."""
        self._sched.start()
        # a canary's first slot may have passed while the rest were added: the round starts now
        for key, item in self._items.items():
            if item.first:
                self._schedule(key, self._intervals[key], COALESCE)

    def apply(self, items: Iterable[Scheduled]) -> tuple[int, int, int]:
        """Make the job set equal to `items`; unchanged checks keep their schedule. (added, removed, changed)."""
        wanted = {i.key: i for i in items}
        removed = [k for k in self._items if k not in wanted]
        for key in removed:
            self._remove(key)
        added = changed = 0
        for key, item in wanted.items():
            old = self._items.get(key)
            if old is None:
                self._items[key] = item
                self._schedule(key, item.check.interval, self._offset(item, item.check.interval))
                added += 1
            elif old.check != item.check:
                self._items[key] = item
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

    def _schedule(self, key: str, interval: float, offset: float) -> None:
        start = _on_grid(datetime.now(UTC) + timedelta(seconds=offset))
        self._intervals[key] = interval
        self._starts[key] = start.timestamp()
        trigger = IntervalTrigger(seconds=interval, start_date=start, timezone=UTC)
        # a set, not get_job(): before start() APScheduler looks jobs up in a list, which made
        # adding 100,000 checks quadratic
        if key not in self._jobs:
            self._jobs.add(key)
            self._sched.add_job(
                self._fire,
                trigger,
                args=[key],
                id=key,
                max_instances=1,
                misfire_grace_time=max(1, int(interval)),
            )
        else:
            self._sched.reschedule_job(key, trigger=trigger)

    def _remove(self, key: str) -> None:
        self._items.pop(key, None)
        self._intervals.pop(key, None)
        self._starts.pop(key, None)
        if key in self._jobs:
            self._jobs.discard(key)
            self._sched.remove_job(key)

    def set_interval(self, key: str, interval: float) -> None:
        """Run a check at another interval from now on (boost or config change)."""
        if key not in self._items or self._intervals.get(key) == interval:
            return
        self._schedule(key, interval, min(interval, self._offset(self._items[key], interval)))

    def interval(self, key: str) -> float | None:
        """The interval a check currently runs at."""
        return self._intervals.get(key)

    def intervals(self) -> dict[str, float]:
        """The interval each check currently runs at, by key."""
        return dict(self._intervals)

    def next_run(self, key: str) -> datetime | None:
        """When a check runs next (None before start() or when not scheduled)."""
        job = self._sched.get_job(key) if key in self._jobs else None
        return getattr(job, "next_run_time", None)

    def keys(self) -> list[str]:
        """Keys of all scheduled checks."""
        return list(self._items)

    async def _fire(self, key: str) -> None:
        item = self._items.get(key)
        if item is None:
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            if item.first:  # a canary never waits behind the targets for a slot
                await self._run_now(key, item)
            else:
                async with self._sem:
                    await self._run_now(key, item)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one run must never stop the schedule
            log.exception("probe run failed", extra={"check": key})
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _run_now(self, key: str, item: Scheduled) -> None:
        now = datetime.now(UTC)
        interval = self._intervals.get(key) or item.check.interval
        # how late this run starts after its slot (wake-up, loop backlog, the cap)
        self.lateness.observe((now.timestamp() - self._starts.get(key, 0.0)) % interval)
        await self._run(item, now)

    async def stop(self, grace: float) -> None:
        """Stop scheduling, let in-flight probes finish within `grace`, then cancel the rest."""
        if not self._sched.running:
            return
        # pause first: APScheduler's shutdown cancels running jobs at once, which would deny
        # in-flight probes their grace
        self._sched.pause()
        pending = set(self._inflight)
        if pending:
            await asyncio.wait(pending, timeout=grace)
        # what still runs after the grace is cancelled by shutdown; expected, not worth a log line
        logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)
        self._sched.shutdown(wait=False)
        still = [t for t in pending if not t.done()]
        if still:
            await asyncio.gather(*still, return_exceptions=True)
