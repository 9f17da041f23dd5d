"""The instance's side of a fleet: publish to PostgreSQL, spool when cut off, and decide when
this instance holds the decider lock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from alerts import router
from alerts.base import Alert, DeliveryError, Notification, ReceiverContext
from alerts.codec import notification_from_dict, notification_to_dict
from alerts.delivery import attempt
from alerts.inhibit import InhibitRule, inhibited
from alerts.silences import from_config as silence_config
from alerts.silences import muted_by
from monitor.config import Config
from monitor.core.base import Announcement, Classification, Clock, Message, Observation, Outage
from monitor.core.codec import dt
from monitor.core.fleet import (
    CheckView,
    Firing,
    FleetDecider,
    FleetState,
    Verdict,
    ViewBook,
    fleet_alerts,
)
from monitor.core.incidents import Change
from monitor.core.state import CheckChanged, Event, OutageClosed, OutageOpened, StateMachine
from monitor.store import fleet as q
from monitor.store import pg
from monitor.web.base import FleetSnapshot

log = logging.getLogger("outwatch.fleet")
SYNC_EVERY = 1.0
DECIDE_EVERY = 1.0
PING_TIMEOUT = 3.0  # the decider's session must answer this fast, or it stops deciding
DECIDE_TIMEOUT = 10.0
SYNC_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
SEND_BATCH = 50  # notifications per decision round, at most
T = TypeVar("T")
# the server ends a decider session that stops talking (a cut cable sends no FIN): the lock is
# then free for another instance well within the 15 s takeover promise
IDLE_SESSION_TIMEOUT = "8s"
MEMORY_KEY = "decider"
MEMORY_EVERY = 10.0  # seconds: the decider's memory is saved at least this often, and on change


class Spool:
    """Transitions, outages and notices kept in a local file while the database is away."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped = 0

    def size(self) -> int:
        """Bytes spooled."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def append(self, records: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Append records; past the bound, new ones are dropped and counted (state is re-sent
        whole on reconnect, so only history is lost)."""
        lines = [json.dumps({"t": t, "r": r}, ensure_ascii=False) + "\n" for t, r in records]
        size = self.size()
        keep = []
        for line in lines:
            if size + len(line) > self.max_bytes:
                self.dropped += 1
                continue
            size += len(line)
            keep.append(line)
        if keep and size and not self._ends_with_newline():
            keep.insert(0, "\n")  # after a torn last line (a crash mid-write), start afresh
        if keep:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.writelines(keep)
                f.flush()
                os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        try:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) == b"\n"
        except OSError:
            return True

    def read(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record, oldest first (a torn last line from a crash is skipped)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                out.append((str(rec["t"]), dict(rec["r"])))
        return out

    def clear(self) -> None:
        """Forget what was replayed."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Fleet:
    """Publishes this instance's decisions; runs the fleet decider while it holds the lock."""

    def __init__(self, cfg: Config, clock: Clock, machine: StateMachine) -> None:
        assert cfg.storage.url is not None
        self.url = cfg.storage.url.get_secret_value()
        self.cfg = cfg
        self.clock = clock
        self.machine = machine
        self.instance = cfg.instance
        self.vantage = cfg.vantage.name
        self.started_at = clock.now()
        self.spool = Spool(cfg.fleet.spool_path, cfg.fleet.spool_max_bytes)
        self.checks: dict[tuple[str, str], dict[str, Any]] = {}  # not yet published
        self.history: list[tuple[str, dict[str, Any]]] = []  # transitions, outages, notices
        self.offline_since: datetime | None = None
        self._failing: dict[tuple[str, str], datetime] = {}  # check -> its first failure
        self.connected = False
        self.cut_off_since: datetime | None = None
        self.is_decider = False
        self.verdicts: dict[str, Verdict] = {}
        self.sent = 0
        self.published = 0  # rounds written to the database
        self._conn: q.Conn | None = None
        self._lock: q.Conn | None = None
        self._reader: q.Conn | None = None
        self._decider: FleetDecider | None = None
        self._cursor = 0
        # the decider's copy of the published check states, read incrementally
        self._book = ViewBook()
        self._horizon = 0  # transactions from here on may have written unread check states
        self._everyone: tuple[frozenset[str], tuple[str, ...], tuple[str, ...]] | None = None
        self._saved_at = float("-inf")  # when the decider's memory was last written
        self._firing = Firing()
        self._tasks: list[asyncio.Task[None]] = []
        self._orphans: set[asyncio.Future[Any]] = set()  # timed-out calls still winding down
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start publishing and competing for the decider lock."""
        self.checks = {
            k: self._check_row(k[0], k[1], s, None, None)
            for k, s in self.machine.check_states().items()
        }
        self._session = aiohttp.ClientSession()
        self._tasks = [
            asyncio.create_task(self._sync_loop(), name="fleet-sync"),
            asyncio.create_task(self._decide_loop(), name="fleet-decide"),
        ]

    async def stop(self) -> None:
        """Publish what is pending, release the lock, close."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._sync()
            if self._conn is not None and self.cut_off_since is None:
                # absent at once, rather than counted for stale_after with its last states
                await self._within(q.leave(self._conn, self.instance), PING_TIMEOUT)
        if self.is_decider:
            log.info("stopping: the fleet's decider role goes to another instance")
            self.is_decider = False
        self._stop_deciding("stopping")
        for orphan in list(self._orphans):
            orphan.cancel()
        for conn in (self._conn, self._lock, self._reader):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        if self._session is not None:
            await self._session.close()

    # -- what the daemon tells it ----------------------------------------------------------------

    def observe(self, obs: Observation, events: Iterable[Event]) -> None:
        """Account one result's state events (check changes and outages)."""
        key = (obs.service, obs.check)
        if obs.ok:
            self._failing.pop(key, None)
        else:
            self._failing.setdefault(key, obs.ts)
        for ev in events:
            if isinstance(ev, CheckChanged):
                # a check that went down is down since its first failure, as outages count it
                since = self._failing.get(key, ev.at) if ev.new == "down" else ev.at
                self.checks[(ev.service, ev.check)] = self._check_row(
                    ev.service, ev.check, ev.new, obs.error if not obs.ok else None, since
                )
                self.history.append(
                    (
                        "transition",
                        {
                            "vantage": self.vantage,
                            "service": ev.service,
                            "check_id": ev.check,
                            "at": ev.at.isoformat(),
                            "old": ev.old,
                            "new": ev.new,
                            "instance": self.instance,
                        },
                    )
                )
            elif isinstance(ev, OutageOpened | OutageClosed):
                self._outage(ev.outage)

    def _outage(self, o: Outage) -> None:
        self.history.append(("outage", q.outage_row(self.vantage, o)))

    def announcement(self, ann: Announcement) -> None:
        """A notice this instance's sources saw: recorded once across the fleet."""
        self.history.append(
            ("announcement", q.announcement_row(ann, self.instance, self.clock.now()))
        )

    def vantage_offline(self, since: datetime | None) -> None:
        """The canaries' verdict on this vantage (None: online)."""
        self.offline_since = since

    def _check_row(
        self, service: str, check: str, state: str, error: str | None, since: datetime | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        return q.check_row(self.vantage, self.instance, service, check, state, error, since, now)

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: new services, quorum and receivers (storage.url needs a restart)."""
        self.cfg = cfg
        if self._decider is not None:
            self._decider.reconfigure(cfg)
            self._everyone = None  # judge every service again under the new rules

    def snapshot(self) -> FleetSnapshot:
        """What /metrics and the API show of the fleet link."""
        return FleetSnapshot(
            instance=self.instance,
            decider=self.is_decider,
            connected=self.connected,
            cut_off_since=self.cut_off_since,
            spool_bytes=self.spool.size(),
            spool_dropped=self.spool.dropped,
            verdicts={k: v.as_dict() for k, v in self.verdicts.items()} if self.is_decider else {},
            sent=self.sent,
        )

    async def read(self, what: str, **filters: Any) -> list[dict[str, Any]]:
        """The fleet view for the API; ConnectionError when the database is unreachable."""
        try:
            if self._reader is None or self._reader.closed or self._reader.broken:
                self._reader = await pg.connect(self.url, f"{self.instance} reader")
            return await self._within(_READS[what](self._reader, **filters), READ_TIMEOUT)
        except pg.DB_ERRORS as exc:
            if self._reader is not None:
                await _close(self._reader)
            self._reader = None
            raise ConnectionError(f"fleet database unreachable: {pg.describe(exc)}") from None

    # -- publishing -------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY)
            await self._sync()

    async def _sync(self) -> None:
        checks, history = self.checks, self.history
        self.checks, self.history = {}, []
        try:
            await self._within(self._publish(history, list(checks.values())), SYNC_TIMEOUT)
            self.spool.clear()
            self.published += 1
        except Exception as exc:
            if isinstance(exc, pg.DB_ERRORS):
                self._cut_off(exc)
            else:  # a bug: say so loudly, and still lose nothing
                log.exception("fleet publishing failed")
            self.spool.append(history)
            # the latest state of each check is kept in memory (bounded by the checks) and
            # published whole when the database returns
            for k, v in checks.items():
                self.checks.setdefault(k, v)
            return
        if self.cut_off_since is not None:
            log.info("database reachable again: spool replayed, %d checks published", len(checks))
        self.cut_off_since = None

    async def _publish(
        self, history: list[tuple[str, dict[str, Any]]], checks: list[dict[str, Any]]
    ) -> None:
        conn = await self._connection()
        async with conn.transaction():
            await self._write(conn, self.spool.read() + history, checks)

    async def _within(self, coro: Coroutine[Any, Any, T], seconds: float) -> T:
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
            self._orphans.add(task)
            task.add_done_callback(_forget(self._orphans))
            raise TimeoutError(f"no answer from the database in {seconds:g}s")
        return task.result()

    async def _write(
        self, conn: q.Conn, history: list[tuple[str, dict[str, Any]]], checks: list[dict[str, Any]]
    ) -> None:
        await q.heartbeat(conn, self.instance, self.vantage, self.offline_since, self.started_at)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for t, r in history:
            by_type.setdefault(t, []).append(r)
        await q.put_checks(conn, checks)
        await q.put_transitions(conn, by_type.get("transition", []))
        await q.put_outages(conn, by_type.get("outage", []))
        await q.put_announcements(conn, by_type.get("announcement", []))

    async def _connection(self) -> q.Conn:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.connected = False
        self._conn = await pg.connect(self.url, self.instance)
        await pg.migrate(self._conn)
        self.connected = True
        return self._conn

    def _cut_off(self, exc: BaseException) -> None:
        self.connected = False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            asyncio.get_running_loop().create_task(_close(conn))
        if self.cut_off_since is None:
            self.cut_off_since = self.clock.now()
            log.error(
                "database %s unreachable: probing and deciding locally, spooling to %s: %s",
                pg.where(self.url),
                self.spool.path,
                pg.describe(exc),
            )

    # -- deciding ---------------------------------------------------------------------------------

    async def _decide_loop(self) -> None:
        while True:
            await asyncio.sleep(DECIDE_EVERY)
            try:
                if await self._within(self._hold_lock(), PING_TIMEOUT):
                    await self._within(self._decide(), DECIDE_TIMEOUT)
                    await self._send()
            except pg.DB_ERRORS as exc:
                self._stop_deciding(pg.describe(exc))
            except Exception:  # a bug must not leave a decider that no longer decides
                log.exception("fleet decider failed")
                self._stop_deciding("internal error")

    async def _hold_lock(self) -> bool:
        """True while this instance is the decider (the lock's session is alive)."""
        if self._lock is None or self._lock.closed or self._lock.broken:
            self._stop_deciding("lost the database session")
            self._lock = await pg.connect(self.url, f"{self.instance} decider")
            await self._lock.execute(f"SET idle_session_timeout = '{IDLE_SESSION_TIMEOUT}'")
            await self._lock.execute(
                f"SET idle_in_transaction_session_timeout = '{IDLE_SESSION_TIMEOUT}'"
            )
        if self.is_decider:
            await self._lock.execute("SELECT 1")
            return True
        cur = await self._lock.execute("SELECT pg_try_advisory_lock(%s)", [pg.DECIDER_LOCK])
        row = await cur.fetchone()
        if row and row[0]:
            await self._become_decider()
        return self.is_decider

    async def _become_decider(self) -> None:
        assert self._lock is not None
        memory = await q.get_memory(self._lock, MEMORY_KEY) or {}
        dec = FleetDecider(self.cfg, FleetState.restore(memory.get("state")))
        if memory.get("correlator"):
            dec.correlator.restore(memory["correlator"])
        self._cursor = int(memory.get("cursor", 0))
        self._book, self._horizon, self._everyone = ViewBook(), 0, None
        self._firing = Firing.restore(memory.get("firing"))
        self._decider = dec
        self.is_decider = True
        log.warning(
            "this instance is now the fleet's decider (%d open incidents)",
            len(dec.correlator.incidents()),
        )

    def _stop_deciding(self, why: str) -> None:
        if self.is_decider:
            log.error("no longer the fleet's decider: %s", why)
        self.is_decider = False
        self._decider = None
        self.verdicts = {}
        # closing the session frees the lock at once for another instance
        if self._lock is not None:
            conn, self._lock = self._lock, None
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(_close(conn))

    async def _decide(self) -> None:
        """One decision round, in one transaction on the lock's session (so a decider whose
        session died cannot write)."""
        assert self._lock is not None and self._decider is not None
        dec, conn, now = self._decider, self._lock, self.clock.now()
        async with conn.transaction():
            views, present, absent, only = await self._changed_views(conn)
            changes: list[Change] = []
            cursor = self._cursor
            for seq, row in await q.new_announcements(conn, cursor):
                cursor = seq
                ann = _announcement(row)
                if ann is not None:
                    changes += dec.correlator.announcement(ann, now)
            verdicts, more = dec.decide(views, present, now, absent, only)
            changes += more
            # only what changed is written: the database grows with events, not with rounds
            moved = {s: v for s, v in verdicts.items() if self.verdicts.get(s) != v}
            await q.put_verdicts(conn, moved, now)
            await q.apply_changes(conn, changes)
            notified = await self._notify(conn, dec, verdicts, now)
            due = self.clock.monotonic() - self._saved_at >= MEMORY_EVERY
            if changes or moved or notified or cursor != self._cursor or due:
                memory = {
                    "state": dec.state.snapshot(),
                    "correlator": dec.correlator.snapshot(),
                    "cursor": cursor,
                    "firing": self._firing.snapshot(),
                }
                await q.put_memory(conn, MEMORY_KEY, memory, now)
                self._saved_at = self.clock.monotonic()
        self._cursor = cursor
        self.verdicts = verdicts
        for ch in changes:
            if ch.incident is not None or ch.campaign is not None:
                log.warning(
                    "fleet %s: %s",
                    ch.kind,
                    ch.incident.id if ch.incident else ch.campaign.id if ch.campaign else "",
                )

    async def _changed_views(
        self, conn: q.Conn
    ) -> tuple[list[CheckView], list[str], list[str], set[str] | None]:
        """The views of the services whose checks changed since the last round (all services
        when the set of live instances changed): views, present, absent, services (None: all)."""
        live, present, absent = await q.load_instances(conn, self.cfg.fleet.stale_after)
        self._horizon, rows = await q.load_checks(conn, self._horizon)
        touched = self._book.add(rows)
        everyone = (live, tuple(present), tuple(absent))
        only: set[str] | None = None if everyone != self._everyone else touched
        self._everyone = everyone
        services = self._book.by_service if only is None else only
        return self._book.views(services, live), present, absent, only

    async def _notify(
        self, conn: q.Conn, dec: FleetDecider, verdicts: dict[str, Verdict], now: datetime
    ) -> bool:
        """Queue a notification per receiver for each fleet alert that began or stopped firing;
        True if any alert did."""
        url = self.cfg.web.external_url or ""
        current = unmuted(self.cfg, fleet_alerts(self.cfg, dec, verdicts, now, url), now)
        routes = router.build(self.cfg.alerts.route)
        moved = self._firing.update(current, now)
        for alert, key in moved:
            for route in routes.match(alert.labels):
                if not route.receiver:
                    continue
                labels = router.group_labels(route, alert.labels, group_campaigns=False)
                n = Notification(
                    route.receiver,
                    router.group_key(route, labels),
                    labels,
                    (alert,),
                    self.cfg.web.external_url or "",
                    f"{key}:{route.receiver}",
                )
                await q.enqueue(conn, n.id, route.receiver, notification_to_dict(n), now)
        return bool(moved)

    async def _send(self) -> None:
        """Deliver due notifications one by one while this instance stays the decider."""
        budget = max((r.timeout for r in self.cfg.alerts.receivers), default=10.0)
        for _ in range(SEND_BATCH):
            if not self.is_decider or not await self._within(
                self._send_one(budget), budget + 2 * PING_TIMEOUT
            ):
                return

    async def _send_one(self, budget: float) -> bool:
        """Claim one due row (FOR UPDATE SKIP LOCKED) on the decider's session and keep it
        locked until its delivery is recorded: if this decider dies mid-send, the row goes back
        to its successor; nothing is claimed once the session is gone. False when none is due."""
        assert self._lock is not None
        conn = self._lock
        async with conn.transaction():
            # the row stays locked while the receiver answers; the server must not end the
            # session for being idle in this transaction meanwhile
            await conn.execute(
                f"SET LOCAL idle_in_transaction_session_timeout = '{int(budget) + 5}s'"
            )
            entries = await q.claim(conn, self.clock.now(), limit=1)
            for entry in entries:
                await self._deliver(conn, entry)
        return bool(entries)

    async def _deliver(self, conn: q.Conn, entry: dict[str, Any]) -> None:
        assert self._session is not None
        now = self.clock.now()
        receiver = self.cfg.alerts.receiver(entry["receiver"])
        if receiver is None:
            await q.mark_retry(conn, entry, now, "receiver no longer configured", True)
            return
        ctx = ReceiverContext(self._session, "fleet", self.cfg.web.external_url or "")
        try:
            await attempt(receiver, notification_from_dict(entry["payload"]), ctx)
        except DeliveryError as exc:
            tries = int(entry["attempts"]) + 1
            final = not exc.retryable or tries >= 10
            delay = exc.retry_after or min(300.0, 2.0**tries)
            await q.mark_retry(conn, entry, now + timedelta(seconds=delay), exc.reason, final)
            log.warning("fleet notification to %s failed: %s", entry["receiver"], exc.reason)
            return
        await q.mark_sent(conn, entry, self.clock.now(), self.instance)
        self.sent += 1


_READS: dict[str, Callable[..., Coroutine[Any, Any, list[dict[str, Any]]]]] = {
    "services": q.list_services,
    "incidents": q.list_incidents,
    "campaigns": q.list_campaigns,
}


def unmuted(cfg: Config, alerts: list[Alert], now: datetime) -> list[Alert]:
    """The alerts no config silence, maintenance window or inhibit rule mutes now: a muted alert
    is not firing for the fleet's outbox, and notifies when the mute ends."""
    silences, windows = silence_config(cfg.alerts)
    rules = [InhibitRule.from_config(r) for r in cfg.alerts.inhibit_rules]
    held = inhibited(alerts, rules)
    return [
        a
        for a in alerts
        if a.fingerprint not in held and not muted_by(a.labels, now, silences, windows)
    ]


def _forget(orphans: set[asyncio.Future[Any]]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        orphans.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late failure of an abandoned call is expected

    return done


async def _close(conn: q.Conn) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def _announcement(row: dict[str, Any]) -> Announcement | None:
    if row["deleted"]:
        return None
    data = row["data"] or {}
    msg = Message(
        row["source"],
        row["id"],
        row["published_at"],
        row["text"],
        row["url"],
        dt(data.get("edited_at")),
    )
    return Announcement(
        msg,
        Classification(
            row["kind"],
            tuple(data.get("services") or ()),
            float(data.get("confidence") or 0.0),
            tuple(data.get("evidence") or ()),
        ),
    )
