"""The decider's notification log, its published alerts and its outbox in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.base import Alert
from alerts.dispatcher import AlertView
from alerts.groups import LogEntry
from monitor.store import fleet as q
from monitor.store import pg

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_the_notification_log_and_the_published_alerts_round_trip(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        entry = LogEntry(frozenset({"f2", "f1"}), frozenset({"f0"}), T0)
        await q.put_nflog(conn, "hook", '{}:{service="bank"}', entry)
        later = LogEntry(frozenset({"f1"}), frozenset(), T0.replace(hour=10))
        await q.put_nflog(conn, "hook", '{}:{service="bank"}', later)
        assert await q.load_nflog(conn) == {("hook", '{}:{service="bank"}'): later}

        a = Alert({"alertname": "service_down", "service": "bank"}, {"vantages_down": "kyiv"}, T0)
        b = Alert({"alertname": "service_down", "service": "gov"}, {}, T0.replace(minute=5))
        views = [AlertView(b, ("s1",), (), ("hook",)), AlertView(a, (), (), ("hook", "oncall"))]
        await q.put_alerts(conn, views, T0)
        assert await q.list_alerts(conn) == views[::-1]  # oldest first
        await q.put_alerts(conn, views[:1], T0)  # the set is replaced whole
        assert await q.list_alerts(conn) == views[:1]


async def test_a_newer_notification_supersedes_the_groups_undelivered_one(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        bank, gov = {"group_key": "bank"}, {"group_key": "gov"}
        assert await q.enqueue(conn, "bank-firing", "hook", bank, T0)
        assert await q.enqueue(conn, "gov-firing", "hook", gov, T0)
        assert await q.enqueue(conn, "bank-firing-oncall", "oncall", bank, T0)
        assert await q.enqueue(conn, "bank-resolved", "hook", bank, T0)
        assert not await q.enqueue(conn, "bank-resolved", "hook", bank, T0)  # once per key
        async with conn.transaction():
            due = sorted(e["key"] for e in await q.claim(conn, T0))
        assert due == ["bank-firing-oncall", "bank-resolved", "gov-firing"]
