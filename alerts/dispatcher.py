"""The dispatcher: alerts in; routed, grouped, muted and deduplicated; out through the outbox.

Modelled on Alertmanager's dispatch/ and notify/ packages: each route collects alerts into
groups by their group labels; a group is flushed group_wait after it is born and every
group_interval after that; a flush passes the mute stage (silences, maintenance, inhibition),
then the dedup stage against the notification log, and is written to the durable outbox in the
same transaction as the log entry. The outbox loop delivers with retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

import aiohttp
import sqlite_utils

from alerts import groups as nflog
from alerts import outbox, silences, state
from alerts.base import Alert, Clock, DeliveryError, Notification, ReceiverContext, Storage
from alerts.config import AlertsConfig
from alerts.delivery import attempt, without_resolved
from alerts.groups import Group, LogEntry
from alerts.inhibit import InhibitRule, inhibited
from alerts.matchers import Matcher
from alerts.router import Route, build
from alerts.silences import Silence
from alerts.stats import DeliveryStats

log = logging.getLogger("outwatch.alerts")
MAX_SLEEP = 60.0
KEEP_FINISHED = timedelta(days=7)
PRUNE_INTERVAL = 300.0  # seconds between prunes of the outbox, notification log and silences


@dataclass(frozen=True)
class AlertView:
    """An alert as the API shows it: muted alerts are still listed, with what mutes them."""

    alert: Alert
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    receivers: tuple[str, ...]

    @property
    def state(self) -> Literal["active", "suppressed"]:
        """suppressed when a silence, a maintenance window or an inhibiting alert mutes it."""
        return "suppressed" if self.silenced_by or self.inhibited_by else "active"


class Dispatcher:
    """Owns the groups, the notification log, the silences and the outbox delivery tasks."""

    def __init__(
        self,
        cfg: AlertsConfig,
        storage: Storage,
        *,
        clock: Clock,
        vantage: str,
        external_url: str = "",
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> None:
        self._storage = storage
        self._prune_interval = prune_interval
        self._clock = clock
        self.vantage = vantage
        self.external_url = external_url
        self._session = session
        self._own_session = session is None
        self._rng = rng or random.Random()
        self.stats = DeliveryStats()
        self._alerts: dict[str, Alert] = {}
        self._groups: dict[str, Group] = {}
        self._log: dict[tuple[str, str], LogEntry] = {}
        self._silences: dict[str, Silence] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.beats: dict[str, float] = {}  # loop task name -> monotonic time of its last iteration
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._wake_groups = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._store_down = False
        self._unloaded: Any = None  # the start-up load, while it could not run
        self._apply(cfg)

    def _apply(self, cfg: AlertsConfig) -> None:
        self.cfg = cfg
        self._root: Route = build(cfg.route)
        self._rules = [InhibitRule.from_config(r) for r in cfg.all_inhibit_rules()]
        self._static, self._windows = silences.from_config(cfg)
        self._sem = asyncio.Semaphore(cfg.delivery.concurrency)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the tables and load silences, the notification log and firing alerts."""

        def _load(db: sqlite_utils.Database) -> Any:
            for create in (
                outbox.create_table,
                nflog.create_table,
                silences.create_table,
                state.create_table,
            ):
                create(db)
            return (
                silences.load(db),
                nflog.load_entries(db),
                state.load(db),
                outbox.pending_count(db),
            )

        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            stored, entries, firing, pending = await self._storage.run(_load)
        except Exception as exc:  # the store is down: alert from memory, load when it is back
            self._storage_failed(exc)
            self._unloaded = _load
            return
        self._unloaded = None
        self._storage_ok()
        self._silences = {s.id: s for s in stored}
        self._log = entries
        self.stats.outbox_pending = pending
        async with self._lock:
            for a in firing:
                self._alerts[a.fingerprint] = a
                self._place(a)
        await self._prune_or_wait()

    async def prune(self) -> None:
        """Forget finished notifications, old log entries and expired silences (kept a week);
        drop pending notifications past their maximum age."""
        now = self._clock.now()
        before = now - KEEP_FINISHED
        max_age = self.cfg.delivery.give_up_after
        reason = f"expired: not delivered within {max_age:g}s"

        def _prune(db: sqlite_utils.Database) -> tuple[list[str], int]:
            silences.prune(db, before)
            outbox.prune(db, before)
            nflog.prune_entries(db, before)
            skip = set(self._inflight)
            dropped = outbox.expire(db, now.timestamp() - max_age, now, reason, skip)
            return dropped, outbox.pending_count(db)

        dropped, self.stats.outbox_pending = await self._storage.run(_prune)
        for receiver in dropped:
            self._expired(receiver, reason)
        self._log = {k: e for k, e in self._log.items() if e.at >= before}
        self._silences = {
            i: s for i, s in self._silences.items() if s.ends_at is None or s.ends_at >= before
        }

    def _expired(self, receiver: str, reason: str) -> None:
        self.stats.expired[receiver] += 1
        log.warning("notify %s: dropped, %s", receiver, reason)

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self._prune_interval)
            await self._prune_or_wait()

    async def _prune_or_wait(self) -> None:
        try:
            await self.prune()
        except Exception as exc:  # the store is down or read-only: the next round prunes
            self._storage_failed(exc)

    async def _load_late(self) -> None:
        """The store came back after a start without it: make the tables, keep what memory knows."""
        if self._unloaded is None:
            return
        stored, entries, _, pending = await self._storage.run(self._unloaded)
        self._unloaded = None
        for s in stored:
            self._silences.setdefault(s.id, s)
        self._log = {**entries, **self._log}
        self.stats.outbox_pending = pending

    def _storage_failed(self, exc: Exception) -> None:
        if not self._store_down:
            log.error("alert store unavailable, notifying from memory: %s", exc)
        self._store_down = True

    def _storage_ok(self) -> None:
        if self._store_down:
            log.info("alert store available again")
        self._store_down = False

    async def start(self) -> None:
        """open(), then run the group timers and the outbox delivery loop until stop()."""
        await self.open()
        self._tasks = [
            asyncio.create_task(self._group_loop(), name="alerts-groups"),
            asyncio.create_task(self._outbox_loop(), name="alerts-outbox"),
            asyncio.create_task(self._prune_loop(), name="alerts-prune"),
        ]

    async def stop(self) -> None:
        """Cancel and await every task; undelivered notifications stay pending in the outbox."""
        tasks = [*self._tasks, *self._inflight.values()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks, self._inflight = [], {}
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def reload(self, cfg: AlertsConfig) -> None:
        """Swap the config whole; alerts are routed again, the notification log is kept."""
        async with self._lock:
            old = self._groups
            self._apply(cfg)
            self._groups = {}
            pending = {a.fingerprint: a for g in old.values() for a in g.alerts.values()}
            for a in {**pending, **self._alerts}.values():
                self._place(a)
            for key, g in self._groups.items():
                if key in old:
                    g.next_flush = old[key].next_flush
        self._wake_groups.set()
        self._wake_outbox.set()

    # -- alerts in ---------------------------------------------------------------------------

    async def update(self, active: Sequence[Alert]) -> None:
        """The full set of alerts firing now; those missing since the last call are resolved."""
        now = self._clock.now()
        incoming: dict[str, Alert] = {}
        for a in active:
            incoming[a.fingerprint] = replace(a, ends_at=None) if a.ends_at else a
        changed: list[Alert] = []
        async with self._lock:
            for fp, a in incoming.items():
                old = self._alerts.get(fp)
                if old is not None:
                    a = replace(a, starts_at=min(old.starts_at, a.starts_at))
                if a != old:
                    self._alerts[fp] = a
                    self._place(a)
                    changed.append(a)
            gone = [fp for fp in self._alerts if fp not in incoming]
            for fp in gone:
                self._place(replace(self._alerts.pop(fp), ends_at=now))
        if changed or gone:
            self._wake_groups.set()  # first: a failing store must not delay the notification
            await self._storage.run(lambda db: state.save(db, changed, gone))

    def _place(self, a: Alert) -> None:
        """Put (or refresh) an alert in the group of every route it matches."""
        nflog.place(
            self._groups,
            self._root,
            a,
            self._clock.monotonic(),
            group_campaigns=self.cfg.group_campaigns,
        )

    # -- muting ------------------------------------------------------------------------------

    def all_silences(self) -> list[Silence]:
        """Config silences, then those made through the API."""
        return [*self._static, *self._silences.values()]

    def _mutes(self, now: datetime) -> tuple[dict[str, list[str]], dict[str, str]]:
        candidates = {a.fingerprint: a for g in self._groups.values() for a in g.alerts.values()}
        candidates.update(self._alerts)
        silenced = {}
        for fp, a in candidates.items():
            ids = silences.muted_by(a.labels, now, self.all_silences(), self._windows)
            if ids:
                silenced[fp] = ids
        return silenced, inhibited(candidates.values(), self._rules)

    def alert_views(self) -> list[AlertView]:
        """Every firing alert with its state (active or suppressed, and by what)."""
        silenced, inhibiting = self._mutes(self._clock.now())
        out = []
        for fp, a in sorted(self._alerts.items(), key=lambda kv: (kv[1].starts_at, kv[0])):
            receivers = tuple(dict.fromkeys(r.receiver for r in self._root.match(a.labels)))
            by = (inhibiting[fp],) if fp in inhibiting else ()
            out.append(AlertView(a, tuple(silenced.get(fp, ())), by, receivers))
        return out

    # -- group timers ------------------------------------------------------------------------

    async def flush_due(self) -> int:
        """Flush every group whose timer has passed; returns how many notifications were queued."""
        queued = 0
        async with self._lock:
            now, mono = self._clock.now(), self._clock.monotonic()
            silenced, inhibiting = self._mutes(now)
            muted = set(silenced) | set(inhibiting)
            for group in [g for g in self._groups.values() if g.next_flush <= mono]:
                queued += await self._flush(group, now, mono, muted)
        if queued:
            self._wake_outbox.set()
        return queued

    async def _flush(self, g: Group, now: datetime, mono: float, muted: set[str]) -> int:
        receiver = self.cfg.receiver(g.route.receiver)
        told = nflog.turn(g, receiver, self.cfg.intervals(), mono, now, muted)
        queued = 0 if told is None else await self._notify(g, receiver, told[0], now, told[1])
        if g.forget_resolved():
            del self._groups[g.slot]
        return queued

    async def _notify(
        self, g: Group, receiver: Any, visible: list[Alert], now: datetime, repeat: float
    ) -> int:
        entry = self._log.get((receiver.name, g.key))
        told = nflog.flush(g, receiver, entry, visible, now, repeat, self.external_url)
        if told is None:
            return 0
        n, new_entry = replace(told[0], id=uuid.uuid4().hex), told[1]
        to_send = without_resolved(n, receiver)

        def _write(db: sqlite_utils.Database) -> int:
            if to_send is not None:
                outbox.enqueue(db, to_send, now)
            nflog.save_entry(db, receiver.name, g.key, new_entry)
            return outbox.pending_count(db)

        try:
            self.stats.outbox_pending = await self._storage.run(_write)
        except Exception as exc:  # not durable, but a page now beats a page after the disk is fixed
            self._storage_failed(exc)
            if to_send is not None:
                self._send_from_memory(to_send, now)
        self._log[(receiver.name, g.key)] = new_entry
        return 1 if to_send is not None else 0

    def _send_from_memory(self, n: Notification, now: datetime) -> None:
        entry = outbox.Entry(n.id, n, 0, now.timestamp(), "")
        task = asyncio.create_task(self._deliver_memory(entry), name=f"alerts-memory-{n.id}")
        self._inflight[n.id] = task

    async def _deliver_memory(self, entry: outbox.Entry) -> None:
        """Deliver without the outbox: retried in memory, lost if the process dies."""
        n, attempts = entry.notification, 0
        try:
            while (receiver := self.cfg.receiver(n.receiver)) is not None:
                attempts += 1
                try:
                    async with self._sem:
                        await attempt(receiver, n, self.context())
                except DeliveryError as exc:
                    self.stats.failed[(n.receiver, exc.category)] += 1
                    age = self._clock.now().timestamp() - entry.created_at
                    if not exc.retryable or age >= self.cfg.delivery.give_up_after:
                        log.error("notify %s failed for good: %s", n.receiver, exc.reason)
                        return
                    await asyncio.sleep(self._retry_delay(exc, attempts))
                    continue
                self.stats.sent[n.receiver] += 1
                return
        finally:
            self._inflight.pop(entry.id, None)

    def loops(self) -> list[tuple[asyncio.Task[None], Callable[[], float | None]]]:
        """The long-lived loop tasks, each with the monotonic time of its last iteration, for
        whoever reports liveness."""
        return [(t, partial(self.beats.get, t.get_name())) for t in self._tasks]

    async def _group_loop(self) -> None:
        while True:
            try:
                await self.flush_due()
            except Exception:  # a database hiccup must not end alerting; the next tick retries
                log.exception("flushing alert groups failed")
            self.beats["alerts-groups"] = self._clock.monotonic()
            mono = self._clock.monotonic()
            soonest = min((g.next_flush for g in self._groups.values()), default=None)
            delay = MAX_SLEEP if soonest is None else min(max(soonest - mono, 0.005), MAX_SLEEP)
            await self._wait(self._wake_groups, delay)

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        event.clear()

    # -- the outbox --------------------------------------------------------------------------

    def context(self) -> ReceiverContext:
        """What receivers get: the shared session, the vantage and the external URL."""
        assert self._session is not None, "open() or start() first"
        return ReceiverContext(self._session, self.vantage, self.external_url)

    async def deliver_due(self) -> list[asyncio.Task[None]]:
        """Start a delivery task for each due notification not already in flight."""
        now = self._clock.now()
        skip = set(self._inflight)
        entries = await self._storage.run(lambda db: outbox.due(db, now, skip))
        started = []
        for entry in entries:
            task = asyncio.create_task(self._deliver(entry), name=f"alerts-deliver-{entry.id}")
            self._inflight[entry.id] = task
            started.append(task)
        return started

    async def _outbox_loop(self) -> None:
        while True:
            delay = MAX_SLEEP
            try:
                await self._load_late()
                await self.deliver_due()
                nxt = await self._storage.run(partial(outbox.next_due, skip=set(self._inflight)))
                self._storage_ok()
                if nxt is not None:
                    delay = min(max(nxt - self._clock.now().timestamp(), 0.005), MAX_SLEEP)
            except Exception as exc:  # logged once per outage of the store, not every second
                self._storage_failed(exc)
                delay = 1.0
            self.beats["alerts-outbox"] = self._clock.monotonic()
            await self._wait(self._wake_outbox, delay)

    async def _deliver(self, entry: outbox.Entry) -> None:
        try:
            async with self._sem:
                await self._deliver_once(entry)
        except Exception:
            log.exception("delivering notification %s failed unexpectedly", entry.id)
        finally:
            self._inflight.pop(entry.id, None)
            self._wake_outbox.set()

    async def _deliver_once(self, entry: outbox.Entry) -> None:
        n = entry.notification
        receiver = self.cfg.receiver(n.receiver)
        attempts = entry.attempts + 1
        now = self._clock.now()
        if receiver is None:
            reason = f"receiver {n.receiver!r} is no longer configured"
            self.stats.failed[(n.receiver, "unknown_receiver")] += 1
            await self._finish(lambda db: outbox.mark_failed(db, entry.id, attempts, now, reason))
            return
        if not await self._storage.run(lambda db: outbox.is_pending(db, entry.id)):
            return  # superseded by a newer notification for the same group meanwhile
        max_age = self.cfg.delivery.give_up_after
        if now.timestamp() - entry.created_at >= max_age:  # a late page misleads: drop it
            reason = f"expired: not delivered within {max_age:g}s"
            self._expired(n.receiver, reason)
            await self._finish(lambda db: outbox.mark_failed_at(db, entry.id, now, reason))
            return
        started = self._clock.monotonic()
        try:
            await attempt(receiver, n, self.context())
        except DeliveryError as exc:
            now = self._clock.now()
            self.stats.failed[(n.receiver, exc.category)] += 1
            age = now.timestamp() - entry.created_at
            if exc.retryable and age < self.cfg.delivery.give_up_after:
                delay = self._retry_delay(exc, attempts)
                log.warning("notify %s: %s (retry in %.1fs)", n.receiver, exc.reason, delay)
                next_at = now.timestamp() + delay
                reason = exc.reason
                await self._finish(
                    lambda db: outbox.mark_retry(db, entry.id, attempts, next_at, reason)
                )
            else:
                why = exc.reason if not exc.retryable else f"gave up after {age:.0f}s: {exc.reason}"
                log.error("notify %s failed for good: %s", n.receiver, why)
                await self._finish(lambda db: outbox.mark_failed(db, entry.id, attempts, now, why))
            return
        now = self._clock.now()
        # marked right after the receiver accepted it: a restart must not send it again
        await self._finish(lambda db: outbox.mark_delivered(db, entry.id, now, attempts))
        self.stats.sent[n.receiver] += 1
        self.stats.observe_latency(n.receiver, max(self._clock.monotonic() - started, 0.0))

    def _retry_delay(self, exc: DeliveryError, attempts: int) -> float:
        """The receiver's Retry-After, up to delivery.max_retry_after; else the backoff."""
        if exc.retry_after is None:
            return outbox.backoff(attempts, self.cfg.delivery, self._rng)
        return min(exc.retry_after, self.cfg.delivery.max_retry_after)

    async def _finish(self, fn: Any) -> None:
        def _do(db: sqlite_utils.Database) -> int:
            fn(db)
            return outbox.pending_count(db)

        self.stats.outbox_pending = await self._storage.run(_do)

    # -- silences ----------------------------------------------------------------------------

    async def add_silence(
        self,
        matchers: Sequence[Matcher],
        *,
        ends_at: datetime,
        starts_at: datetime | None = None,
        created_by: str = "",
        comment: str = "",
        silence_id: str | None = None,
    ) -> Silence:
        """Create (or, given an existing id, replace) a silence and store it."""
        now = self._clock.now()
        s = Silence(
            id=silence_id or str(uuid.uuid4()),
            matchers=tuple(matchers),
            starts_at=starts_at or now,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            created_at=now,
        )
        await self._storage.run(lambda db: silences.save(db, s))
        self._silences[s.id] = s
        return s

    async def expire_silence(self, silence_id: str) -> bool:
        """End a stored silence now (kept, as expired); False if there is no such silence."""
        s = self._silences.get(silence_id)
        if s is None:
            return False
        now = self._clock.now()
        if s.state(now) != "expired":
            s = replace(s, ends_at=now, starts_at=min(s.starts_at, now))
            await self._storage.run(lambda db: silences.save(db, s))
            self._silences[s.id] = s
        self._wake_groups.set()
        return True

    def now(self) -> datetime:
        """The dispatcher's clock (the API uses it to judge silence times)."""
        return self._clock.now()
