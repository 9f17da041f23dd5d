"""The fleet's decider: holds a PostgreSQL advisory lock on its session, and while it does,
judges every service for the fleet, writes incidents and campaigns, and sends notifications
through the outbox, all on that session (a decider whose session died cannot write or send)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from alerts import groups, router
from alerts.base import Alert, DeliveryError, Notification, ReceiverContext
from alerts.codec import alert_to_dict, notification_from_dict, notification_to_dict
from alerts.delivery import attempt, without_resolved
from alerts.dispatcher import AlertView
from alerts.groups import Group, LogEntry
from alerts.inhibit import InhibitRule, inhibited
from alerts.router import Route
from alerts.silences import Silence, muted_by
from alerts.silences import from_config as silence_config
from monitor.config import Config
from monitor.core.base import Announcement, Clock, Message
from monitor.core.codec import dt
from monitor.core.fleet import (
    CheckView,
    Firing,
    FleetDecider,
    FleetState,
    InstanceReport,
    Verdict,
    ViewBook,
    fleet_alerts,
    instance_alerts,
    verdicts_data,
)
from monitor.core.incidents import Change
from monitor.runtime.dbcalls import Calls, close_quietly
from monitor.store import fleet as q
from monitor.store import pg

log = logging.getLogger("outwatch.fleet")
DECIDE_EVERY = 1.0
PING_TIMEOUT = 3.0  # the decider's session must answer this fast, or it stops deciding
DECIDE_TIMEOUT = 10.0
SEND_BATCH = 50  # notifications per decision round, at most
# the server ends a decider session that stops talking (a cut cable sends no FIN): the lock is
# then free for another instance well within the 15 s takeover promise
IDLE_SESSION_TIMEOUT = "8s"
MEMORY_KEY = "decider"
PRUNE_EVERY = 300.0
OUTBOX_KEEP = 7 * 86400.0  # delivered notifications stay this long in the outbox
MEMORY_EVERY = 10.0  # seconds: the decider's memory is saved at least this often, and on change


class Decider:
    """One instance's bid for the decider role, and the role itself while it holds the lock."""

    def __init__(self, cfg: Config, clock: Clock, url: str, instance: str, calls: Calls) -> None:
        self.cfg = cfg
        self.clock = clock
        self.url = url
        self.instance = instance
        self.calls = calls
        self.is_decider = False
        self.verdicts: dict[str, Verdict] = {}
        # the verdicts as plain data for /metrics and the API: a new mapping when any changes,
        # never changed in place (a scrape reads it in a worker thread; an unchanged one is
        # the same object, so the web side keeps what it made of it)
        self.shown: Mapping[str, Mapping[str, Any]] = {}
        self.sent = 0  # notifications this instance delivered
        self.session: aiohttp.ClientSession | None = None
        self._lock: q.Conn | None = None
        self._fleet: FleetDecider | None = None
        self._cursor = 0  # the last announcement fed to the fleet's correlator
        # the decider's copy of the published check states, read incrementally
        self._book = ViewBook()
        self._horizon = 0  # transactions from here on may have written unread check states
        self._everyone: tuple[frozenset[str], tuple[str, ...], tuple[str, ...]] | None = None
        self._saved_at = float("-inf")  # when the decider's memory was last written
        self._firing = Firing()
        self._pruned_at = float("-inf")
        # the notification groups (timers in epoch seconds: they outlive this process) and the
        # notification log, as the dispatcher keeps them; both are saved in the transaction
        # that queues what they decide
        self._routes = router.build(cfg.alerts.route)
        self._groups: dict[str, Group] = {}
        self._log: dict[tuple[str, str], LogEntry] = {}
        self._published = ""  # digest of the alerts last published for /api/v1/alerts
        self._reloaded: Config | None = None  # a reloaded config, for the next round

    async def close(self) -> None:
        """Hand the role over (at shutdown) and close the session and the HTTP client."""
        if self.is_decider:
            log.info("stopping: the fleet's decider role goes to another instance")
            self.is_decider = False
        self.stop_deciding("stopping")
        if self.session is not None:
            await self.session.close()

    def reconfigure(self, cfg: Config) -> None:
        """New services, quorum and receivers, taken at the start of the next round (a round's
        pure work runs in a worker thread: nothing it reads may change under it)."""
        self._reloaded = cfg

    def _take_reload(self) -> None:
        cfg, self._reloaded = self._reloaded, None
        if cfg is None:
            return
        self.cfg = cfg
        self._routes = router.build(cfg.alerts.route)
        self._groups = regroup(self._groups, self._routes, self.clock.now().timestamp())
        if self._fleet is not None:
            self._fleet.reconfigure(cfg, self.clock.now())
            self._everyone = None  # judge every service again under the new rules

    async def run(self) -> None:
        """Compete for the lock every second; while held, decide and send."""
        while True:
            await asyncio.sleep(DECIDE_EVERY)
            await self.step()

    async def step(self) -> None:
        """One round: bid for the lock; while it is held, decide, send and prune."""
        self._take_reload()
        try:
            if await self.calls.within(self._hold_lock(), PING_TIMEOUT):
                await self.calls.within(self._decide(), DECIDE_TIMEOUT)
                await self._send()
                await self._prune()
        except pg.DB_ERRORS as exc:
            self.stop_deciding(pg.describe(exc))
        except Exception:  # a bug must not leave a decider that no longer decides
            log.exception("fleet decider failed")
            self.stop_deciding("internal error")

    async def _prune(self) -> None:
        """Now and then, on the decider's session: old outbox rows, and history past
        storage.history_retention (kept forever without one, as in SQLite)."""
        if self.clock.monotonic() - self._pruned_at < PRUNE_EVERY or self._lock is None:
            return
        self._pruned_at = self.clock.monotonic()
        now = self.clock.now()
        keep = self.cfg.storage.history_retention
        history = now - timedelta(seconds=keep) if keep else None
        outbox = now - timedelta(seconds=OUTBOX_KEEP)
        n = await self.calls.within(q.prune(self._lock, outbox, history), DECIDE_TIMEOUT)
        # log entries of live groups are rewritten at least every repeat_interval
        self._log = {k: e for k, e in self._log.items() if e.at >= outbox}
        if n:
            log.info("pruned %d old rows from the fleet's database", n)

    async def _hold_lock(self) -> bool:
        """True while this instance is the decider (the lock's session is alive)."""
        if self._lock is None or self._lock.closed or self._lock.broken:
            self.stop_deciding("lost the database session")
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
        """Take the role, resuming from the memory the last decider committed."""
        assert self._lock is not None
        memory = await q.get_memory(self._lock, MEMORY_KEY) or {}
        dec = FleetDecider(self.cfg, FleetState.restore(memory.get("state")))
        if memory.get("correlator"):
            dec.correlator.restore(memory["correlator"])
        self._cursor = int(memory.get("cursor", 0))
        self._book, self._horizon, self._everyone = ViewBook(), 0, None
        self._firing = Firing.restore(memory.get("firing"))
        self._groups = groups.restore(memory.get("groups"), self._routes)
        self._log = await q.load_nflog(self._lock)
        if "firing" in memory and "groups" not in memory:
            await self._adopt(self._lock)
        self._published = ""
        self._fleet = dec
        self.is_decider = True
        log.warning(
            "this instance is now the fleet's decider (%d open incidents)",
            len(dec.correlator.incidents()),
        )

    async def _adopt(self, conn: q.Conn) -> None:
        """Memory left by a decider before the groups were kept (schema 3) lists the alerts it
        had told as they began: they join their groups as told now, not paged again."""
        now = self.clock.now()
        at = now.timestamp()
        for a in self._firing.alerts.values():
            groups.place(self._groups, self._routes, a, at, group_campaigns=False)
        for g in self._groups.values():
            receiver = self.cfg.alerts.receiver(g.route.receiver)
            g.next_flush = at + groups.timings(g.route, receiver)[0]
            if receiver is not None:
                entry = LogEntry(frozenset(g.alerts), frozenset(), now)
                await q.put_nflog(conn, receiver.name, g.key, entry)
                self._log[(receiver.name, g.key)] = entry

    def stop_deciding(self, why: str) -> None:
        """Give the role up now (closing the session frees the lock for another instance)."""
        if self.is_decider:
            log.error("no longer the fleet's decider: %s", why)
        self.is_decider = False
        self._fleet = None
        self.verdicts = {}
        self.shown = {}
        # closing the session frees the lock at once for another instance
        if self._lock is not None:
            conn, self._lock = self._lock, None
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(close_quietly(conn))

    async def _decide(self) -> None:
        """One decision round, in one transaction on the lock's session (so a decider whose
        session died cannot write)."""
        assert self._lock is not None and self._fleet is not None
        dec, conn, now = self._fleet, self._lock, self.clock.now()
        async with conn.transaction():
            views, present, absent, only = await self._changed_views(conn)
            changes: list[Change] = []
            cursor = self._cursor
            for seq, row in await q.new_announcements(conn, cursor):
                cursor = seq
                ann = _announcement(row)
                if ann is not None:
                    changes += dec.correlator.announcement(ann, now)
            judged = await asyncio.to_thread(self._judge, dec, views, present, now, absent, only)
            verdicts, more, moved, shown = judged
            changes += more
            await q.put_verdicts(conn, moved, now)
            await q.apply_changes(conn, changes)
            notified = await self._notify(conn, dec, verdicts, now)
            due = self.clock.monotonic() - self._saved_at >= MEMORY_EVERY
            if changes or moved or notified or cursor != self._cursor or due:
                memory = await asyncio.to_thread(self._memory, dec, cursor)
                await q.put_memory(conn, MEMORY_KEY, memory, now)
                self._saved_at = self.clock.monotonic()
        self._cursor = cursor
        self.verdicts, self.shown = verdicts, shown
        for ch in changes:
            if ch.incident is not None or ch.campaign is not None:
                log.warning(
                    "fleet %s: %s",
                    ch.kind,
                    ch.incident.id if ch.incident else ch.campaign.id if ch.campaign else "",
                )

    def _judge(
        self,
        dec: FleetDecider,
        views: list[CheckView],
        present: list[str],
        now: datetime,
        absent: list[str],
        only: set[str] | None,
    ) -> tuple[dict[str, Verdict], list[Change], dict[str, Verdict], Mapping[str, Any]]:
        """The services' verdicts and what they change, those that moved since the last round
        and all as plain data (pure work, run in a worker thread)."""
        verdicts, changes = dec.decide(views, present, now, absent, only)
        # only what changed is written: the database grows with events, not with rounds
        # (the services not judged again this round keep their verdicts)
        judged = verdicts if only is None else [s for s in only if s in verdicts]
        moved = {s: verdicts[s] for s in judged if self.verdicts.get(s) != verdicts[s]}
        return verdicts, changes, moved, verdicts_data(self.shown, verdicts, moved)

    def _memory(self, dec: FleetDecider, cursor: int) -> dict[str, Any]:
        """What the next decider resumes from (plain data; made in a worker thread)."""
        return {
            "state": dec.state.snapshot(),
            "correlator": dec.correlator.snapshot(),
            "cursor": cursor,
            "firing": self._firing.snapshot(),
            "groups": groups.snapshot(self._groups),
        }

    async def _changed_views(
        self, conn: q.Conn
    ) -> tuple[list[CheckView], list[str], list[str], set[str] | None]:
        """The views of the services whose checks changed since the last round (all services
        when the set of live instances changed): views, present, absent, services (None: all)."""
        live, present, absent = await q.load_instances(conn, self.cfg.fleet.stale_after)
        self._horizon, rows = await q.load_checks(conn, self._horizon)
        touched = await asyncio.to_thread(self._book.add, rows)  # all of them at takeover
        everyone = (live, tuple(present), tuple(absent))
        only: set[str] | None = None if everyone != self._everyone else touched
        self._everyone = everyone
        services = list(self._book.by_service) if only is None else only
        views = await asyncio.to_thread(self._book.views, services, live)
        return views, present, absent, only

    async def _notify(
        self, conn: q.Conn, dec: FleetDecider, verdicts: dict[str, Verdict], now: datetime
    ) -> bool:
        """Place the fleet's alerts in their groups and flush the groups that are due, honouring
        each route's group_wait, group_interval and repeat_interval as the dispatcher does; True
        if the groups changed (their timers and the notification log are saved with the outbox
        rows, so the next decider neither repeats early nor forgets a repeat)."""
        reports = await q.load_reports(conn, self.cfg.fleet.stale_after)
        silences = await q.load_silences(conn)
        # in a wave every firing alert is remade each round: not on the event loop
        placed = await asyncio.to_thread(self._place, dec, verdicts, reports, silences, now)
        shown, changed, digest = placed
        firing = [v for v in shown if v.alert.status == "firing"]
        # the firing alerts for every instance's /api/v1/alerts, written when they change
        if digest != self._published:
            await q.put_alerts(conn, firing, now)
            self._published = digest
        muted = {v.alert.fingerprint for v in shown if v.state == "suppressed"}
        flushed = await self._flush_due(conn, now, muted)
        return changed or flushed

    def _place(
        self,
        dec: FleetDecider,
        verdicts: dict[str, Verdict],
        reports: list[InstanceReport],
        silences: list[Silence],
        now: datetime,
    ) -> tuple[list[AlertView], bool, str]:
        """The fleet's alerts placed in their groups, each with what mutes it; True if any began
        or stopped firing or a group was born; the digest of those firing (pure work, run in a
        worker thread)."""
        # this round's objects, even if the round is abandoned meanwhile (a new decider role
        # starts from fresh ones)
        cfg, firing, kept, routes = self.cfg, self._firing, self._groups, self._routes
        url = cfg.web.external_url or ""
        every = fleet_alerts(cfg, dec, verdicts, now, url) + instance_alerts(reports, now, url)
        moved = firing.update(every, now)
        at = now.timestamp()
        resolved = [a for a, _ in moved if a.ends_at is not None]
        born = False
        for a in [*every, *resolved]:
            born |= groups.place(kept, routes, a, at, group_campaigns=False)
        waiting = [a for g in kept.values() for a in g.alerts.values()]
        shown = views(cfg, every, now, silences, routes, waiting)
        digest = _digest([v for v in shown if v.alert.status == "firing"])
        return shown, bool(moved) or born, digest

    async def _flush_due(self, conn: q.Conn, now: datetime, muted: set[str]) -> bool:
        """Flush every group whose timer has passed; True if any was due."""
        at = now.timestamp()
        due = [g for g in self._groups.values() if g.next_flush <= at]
        named = self.cfg.alerts.intervals()
        for g in due:
            receiver = self.cfg.alerts.receiver(g.route.receiver)
            told = groups.turn(g, receiver, named, at, now, muted)
            if told is not None:
                await self._tell(conn, g, receiver, told[0], now, told[1])
            if g.forget_resolved():
                del self._groups[g.slot]
        return bool(due)

    async def _tell(
        self,
        conn: q.Conn,
        g: Group,
        receiver: Any,
        visible: list[Alert],
        now: datetime,
        repeat: float,
    ) -> None:
        """The dedup stage against the shared notification log; what passes is queued in the
        outbox under a key that is also its idempotency key at the receiver."""
        url = self.cfg.web.external_url or ""
        slot = (receiver.name, g.key)
        told = groups.flush(g, receiver, self._log.get(slot), visible, now, repeat, url)
        if told is None:
            return
        n, entry = told
        n = replace(n, id=notification_key(n, entry))
        # a receiver that does not want resolved alerts gets none (as from the dispatcher)
        to_send = without_resolved(n, receiver)
        if to_send is not None:
            await q.enqueue(conn, n.id, n.receiver, notification_to_dict(to_send), now)
        await q.put_nflog(conn, receiver.name, g.key, entry)
        self._log[slot] = entry

    async def _send(self) -> None:
        """Deliver due notifications one by one while this instance stays the decider."""
        budget = max((r.timeout for r in self.cfg.alerts.receivers), default=10.0)
        for _ in range(SEND_BATCH):
            if not self.is_decider or not await self.calls.within(
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
        assert self.session is not None
        now = self.clock.now()
        receiver = self.cfg.alerts.receiver(entry["receiver"])
        if receiver is None:
            await q.mark_retry(conn, entry, now, "receiver no longer configured", True)
            return
        ctx = ReceiverContext(self.session, "fleet", self.cfg.web.external_url or "")
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


def notification_key(n: Notification, entry: LogEntry) -> str:
    """The outbox row's key, sent to receivers as the notification's idempotency key: it names
    the group, the receiver, the flush and what it told, so it is the same on every re-send."""
    text = "\n".join(
        [n.receiver, n.group_key, entry.at.isoformat(), *sorted(entry.firing), "-"]
        + sorted(entry.resolved)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def regroup(old: dict[str, Group], root: Route, at: float) -> dict[str, Group]:
    """The groups under a reloaded route tree: those it still builds keep their timers; the
    alerts of the others join new groups (with a new group_wait)."""
    kept = groups.restore(groups.snapshot(old), root)
    for g in old.values():
        if g.slot not in kept:
            for a in g.alerts.values():
                groups.place(kept, root, a, at, group_campaigns=False)
    return kept


def views(
    cfg: Config,
    alerts: list[Alert],
    now: datetime,
    shared: Iterable[Silence] = (),
    routes: Route | None = None,
    waiting: Iterable[Alert] = (),
) -> list[AlertView]:
    """Each of `alerts`, then of `waiting` (resolved ones still in their groups), with what mutes
    it: the config's silences, `shared` ones (made through any instance's API), maintenance
    windows and inhibit rules. A muted alert stays in its group and is left out of its
    notifications until the mute ends, as in the dispatcher."""
    silences, windows = silence_config(cfg.alerts)
    silences += shared
    rules = [InhibitRule.from_config(r) for r in cfg.alerts.inhibit_rules]
    every = {a.fingerprint: a for a in alerts}
    for a in waiting:
        every.setdefault(a.fingerprint, a)
    held = inhibited(every.values(), rules)
    root = routes or router.build(cfg.alerts.route)
    return [
        AlertView(
            a,
            tuple(muted_by(a.labels, now, silences, windows)),
            (held[fp],) if fp in held else (),
            tuple(dict.fromkeys(r.receiver for r in root.match(a.labels))),
        )
        for fp, a in every.items()
    ]


def _digest(shown: list[AlertView]) -> str:
    data = [
        [alert_to_dict(v.alert), v.silenced_by, v.inhibited_by, v.receivers]
        for v in sorted(shown, key=lambda v: v.alert.fingerprint)
    ]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


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
    return Announcement(msg, q.classification_of(row))  # claims as the recorder classified
