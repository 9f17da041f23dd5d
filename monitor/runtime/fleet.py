"""The instance's side of a fleet: publish to PostgreSQL, spool when cut off (runtime/spool.py),
serve the shared view, and bid for the decider role (runtime/decider.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import psycopg

from alerts.dispatcher import AlertView, Dispatcher
from alerts.silences import Silence
from monitor.config import Config
from monitor.core.alertrules import CertFacts, SourceFacts
from monitor.core.base import Announcement, Clock, Observation, Outage
from monitor.core.fleet import facts_dict
from monitor.core.state import CheckChanged, Event, OutageClosed, OutageOpened, StateMachine
from monitor.runtime.dbcalls import Calls, close_quietly
from monitor.runtime.decider import Decider
from monitor.runtime.spool import Spool
from monitor.store import fleet as q
from monitor.store import pg
from monitor.web.base import FleetSnapshot

log = logging.getLogger("outwatch.fleet")
SYNC_EVERY = 1.0
SYNC_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
T = TypeVar("T")
# what says the database is out of reach (not a read it refused)
UNREACHABLE = (psycopg.OperationalError, OSError, TimeoutError)


class Fleet:
    """Publishes this instance's decisions; runs the fleet decider while it holds the lock."""

    def __init__(
        self, cfg: Config, clock: Clock, machine: StateMachine, dispatcher: Dispatcher | None = None
    ) -> None:
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
        self.facts: dict[str, Any] = {}  # sources' health and certificates, for the decider
        self._failing: dict[tuple[str, str], datetime] = {}  # check -> its first failure
        self.connected = False
        self.cut_off_since: datetime | None = None
        self._unreachable = ""  # why, while cut off: what reads answer at once
        self.published = 0  # rounds written to the database
        self._conn: q.Conn | None = None
        self._lock: q.Conn | None = None
        self._reader: q.Conn | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.dispatcher = dispatcher  # its API silences apply fleet-wide
        self._silences: dict[str, tuple[object, ...]] = {}  # each silence as last shared
        self.calls = Calls()
        self.decider = Decider(cfg, clock, self.url, self.instance, self.calls)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start publishing and competing for the decider lock."""
        self.checks = {
            k: self._check_row(k[0], k[1], s, None, None)
            for k, s in self.machine.check_states().items()
        }
        self.decider.session = aiohttp.ClientSession()
        self._tasks = [
            asyncio.create_task(self._sync_loop(), name="fleet-sync"),
            asyncio.create_task(self.decider.run(), name="fleet-decide"),
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
                await self.calls.within(q.leave(self._conn, self.instance), READ_TIMEOUT)
        await self.decider.close()
        self.calls.cancel_all()
        for conn in (self._conn, self._reader):
            if conn is not None:
                await close_quietly(conn)

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

    def local_facts(self, sources: Iterable[SourceFacts], certs: Iterable[CertFacts]) -> None:
        """This instance's sources' health and its checks' certificates: the decider turns them
        into the fleet's source, vantage and certificate alerts."""
        self.facts = facts_dict(sources, certs)

    def _check_row(
        self, service: str, check: str, state: str, error: str | None, since: datetime | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        return q.check_row(self.vantage, self.instance, service, check, state, error, since, now)

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: new services, quorum and receivers (storage.url needs a restart)."""
        self.cfg = cfg
        self.decider.reconfigure(cfg)

    @property
    def is_decider(self) -> bool:
        """Whether this instance decides for the fleet now."""
        return self.decider.is_decider

    def snapshot(self) -> FleetSnapshot:
        """What /metrics and the API show of the fleet link."""
        d = self.decider
        return FleetSnapshot(
            instance=self.instance,
            decider=d.is_decider,
            connected=self.connected,
            cut_off_since=self.cut_off_since,
            spool_bytes=self.spool.size(),
            spool_dropped=self.spool.dropped,
            verdicts=d.shown if d.is_decider else {},
            sent=d.sent,
        )

    async def read(self, what: str, **filters: Any) -> list[dict[str, Any]]:
        """The fleet view for the API (services, incidents, campaigns, announcements);
        ConnectionError when the database is unreachable."""
        return await self._query(q.READS[what], **filters)

    async def alerts(self) -> list[AlertView]:
        """The fleet's firing alerts as the decider last published them, with what mutes each;
        ConnectionError when the database is unreachable."""
        return await self._query(q.list_alerts)

    async def _query(self, fn: Callable[..., Coroutine[Any, Any, T]], **filters: Any) -> T:
        """One read, connecting included, within READ_TIMEOUT; while this instance is cut off
        it fails at once: a page makes several reads, and each would wait out its own bound on
        a hung link. The publishing loop finds the database again (every SYNC_EVERY)."""
        if self.cut_off_since is not None:
            raise ConnectionError(self._unreachable)
        try:
            return await self.calls.within(self._read(fn, filters), READ_TIMEOUT)
        except pg.DB_ERRORS as exc:
            if self._reader is not None:
                await close_quietly(self._reader)
            self._reader = None
            if not isinstance(exc, UNREACHABLE):  # reached, but the read failed: a bug
                log.error("fleet read %s failed: %s", fn.__name__, pg.describe(exc))
                raise ConnectionError(f"fleet database read failed: {pg.describe(exc)}") from None
            self._cut_off(exc)  # the same evidence as a failed publish: reads fail fast now
            raise ConnectionError(self._unreachable) from None

    async def _read(self, fn: Callable[..., Coroutine[Any, Any, T]], filters: dict[str, Any]) -> T:
        if self._reader is None or self._reader.closed or self._reader.broken:
            self._reader = await pg.connect(self.url, f"{self.instance} reader")
        return await fn(self._reader, **filters)

    # -- publishing -------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY)
            await self._sync()

    async def _sync(self) -> None:
        checks, history = self.checks, self.history
        self.checks, self.history = {}, []
        try:
            await self.calls.within(self._publish(history, list(checks.values())), SYNC_TIMEOUT)
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
            pushed = await self._push_silences(conn)
        self._silences.update(pushed)
        await self._pull_silences(conn)

    async def _push_silences(self, conn: q.Conn) -> dict[str, tuple[object, ...]]:
        """Share the silences made or changed through this instance's API since last time."""
        if self.dispatcher is None:
            return {}
        changed = [
            s
            for s in self.dispatcher.all_silences()
            if not s.id.startswith("config:") and self._silences.get(s.id) != _silence_key(s)
        ]
        await q.put_silences(conn, changed, self.clock.now())
        return {s.id: _silence_key(s) for s in changed}

    async def _pull_silences(self, conn: q.Conn) -> None:
        """Take the silences other instances made or changed, so this instance's API lists
        (and can expire) every silence of the fleet."""
        if self.dispatcher is None:
            return
        for s in await q.load_silences(conn):
            if self._silences.get(s.id) == _silence_key(s):
                continue
            await self.dispatcher.add_silence(
                s.matchers,
                ends_at=s.ends_at or s.starts_at,
                starts_at=s.starts_at,
                created_by=s.created_by,
                comment=s.comment,
                silence_id=s.id,
            )
            self._silences[s.id] = _silence_key(s)

    async def _write(
        self, conn: q.Conn, history: list[tuple[str, dict[str, Any]]], checks: list[dict[str, Any]]
    ) -> None:
        await q.heartbeat(
            conn, self.instance, self.vantage, self.offline_since, self.started_at, self.facts
        )
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
        self._unreachable = f"fleet database unreachable: {pg.describe(exc)}"
        if self._conn is not None:
            conn, self._conn = self._conn, None
            asyncio.get_running_loop().create_task(close_quietly(conn))
        if self.cut_off_since is None:
            self.cut_off_since = self.clock.now()
            log.error(
                "database %s unreachable: probing and deciding locally, spooling to %s: %s",
                pg.where(self.url),
                self.spool.path,
                pg.describe(exc),
            )


def _silence_key(s: Silence) -> tuple[object, ...]:
    """What a silence says (its id aside): a change of any of it is shared."""
    return (s.matchers, s.starts_at, s.ends_at, s.created_by, s.comment)
