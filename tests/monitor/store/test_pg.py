"""The fleet's PostgreSQL: migrations under a lock, idempotent writes, a SKIP LOCKED outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg

from monitor.core.base import Announcement, Classification, Message
from monitor.store import fleet as q
from monitor.store import pg

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_instances_starting_together_migrate_once(pg_dsn: str) -> None:
    conns = [await pg.connect(pg_dsn, f"i{n}") for n in range(4)]
    try:
        versions = await asyncio.gather(*(pg.migrate(c) for c in conns))
        assert versions == [len(pg.MIGRATIONS)] * 4
        cur = await conns[0].execute("SELECT count(*) FROM schema_migrations")
        assert await cur.fetchone() == (len(pg.MIGRATIONS),)
        assert await pg.migrate(conns[0]) == len(pg.MIGRATIONS)  # again: nothing to do
    finally:
        for c in conns:
            await c.close()


async def test_newer_schema_is_refused(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "i") as conn:
        await pg.migrate(conn)
        await conn.execute("INSERT INTO schema_migrations (version) VALUES (999)")
        try:
            await pg.migrate(conn)
        except pg.SchemaError as exc:
            assert "newer than this outwatch knows" in str(exc)
        else:
            raise AssertionError("a newer schema must be refused")


def _ann(text: str) -> Announcement:
    msg = Message("privatbank_ua", "42", T0, text)
    return Announcement(msg, Classification("attack", ("privatbank",), 0.9, ("DDoS",)))


async def test_the_same_notice_from_two_instances_is_recorded_once(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as a, await pg.connect(pg_dsn, "b") as b:
        await pg.migrate(a)
        first = await q.put_announcements(a, [q.announcement_row(_ann("DDoS attack"), "kyiv", T0)])
        second = await q.put_announcements(b, [q.announcement_row(_ann("DDoS attack"), "lviv", T0)])
        assert (first, second) == (1, 0)
        edited = await q.put_announcements(
            b, [q.announcement_row(_ann("DDoS attack, restored"), "lviv", T0)]
        )
        assert edited == 1
        rows = await q.new_announcements(a, 0)
        assert [(r["source"], r["id"], r["recorded_by"]) for _, r in rows] == [
            ("privatbank_ua", "42", "kyiv")
        ]
        cur = await a.execute("SELECT service FROM announcement_claims")
        assert await cur.fetchall() == [("privatbank",)]


async def test_replayed_rows_are_not_duplicated(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        t = {
            "vantage": "kyiv",
            "service": "bank",
            "check_id": "web",
            "at": T0.isoformat(),
            "old": "up",
            "new": "down",
            "instance": "kyiv-0",
        }
        newer = q.check_row(
            "kyiv", "kyiv-0", "bank", "web", "up", None, T0, datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
        )
        older = q.check_row("kyiv", "kyiv-0", "bank", "web", "down", "timeout", T0, T0)
        for _ in range(2):
            await q.put_transitions(conn, [t])
        await q.put_checks(conn, [newer])
        await q.put_checks(conn, [older])  # a spool replayed late does not win
        cur = await conn.execute("SELECT count(*) FROM check_transitions")
        assert await cur.fetchone() == (1,)
        cur = await conn.execute("SELECT state FROM check_states")
        assert await cur.fetchone() == ("up",)


async def test_outbox_key_once_and_claims_disjoint(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as a, await pg.connect(pg_dsn, "b") as b:
        await pg.migrate(a)
        assert await q.enqueue(a, "firing:bank@x:hook", "hook", {"n": 1}, T0)
        assert not await q.enqueue(b, "firing:bank@x:hook", "hook", {"n": 1}, T0)
        for n in range(3):
            await q.enqueue(a, f"k{n}", "hook", {"n": n}, T0)
        async with a.transaction():
            mine = await q.claim(a, T0, limit=2)
            async with b.transaction():
                theirs = await q.claim(b, T0)
        assert len(mine) == 2 and len(theirs) == 2
        assert not {e["id"] for e in mine} & {e["id"] for e in theirs}


def test_where_never_shows_the_password() -> None:
    assert pg.where("postgresql://ow:s3cret@db.example:6432/outwatch") == "db.example:6432/outwatch"
    assert "s3cret" not in pg.describe(psycopg.OperationalError("connection failed"))


async def test_check_changes_are_read_once_committed(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as conn, await pg.connect(pg_dsn, "b") as late:
        await pg.migrate(conn)
        row = q.check_row("kyiv", "kyiv-0", "bank", "web", "up", None, T0, T0)
        await q.put_checks(conn, [row, {**row, "check_id": "tcp"}])
        horizon, first = await q.load_checks(conn, 0)
        assert sorted(v.check for _, v in first) == ["tcp", "web"]
        horizon, again = await q.load_checks(conn, horizon)
        assert again == []
        later = datetime(2026, 3, 1, 9, 1, tzinfo=UTC)
        # a publisher's transaction that began before the decider looked and commits after
        async with late.transaction():
            await q.put_checks(
                late, [q.check_row("kyiv", "kyiv-0", "bank", "web", "down", "timeout", T0, later)]
            )
            horizon, meanwhile = await q.load_checks(conn, horizon)
            assert meanwhile == []
        _, seen = await q.load_checks(conn, horizon)
        assert [(v.check, v.state) for _, v in seen] == [("web", "down")]


async def test_prune_keeps_what_is_recent_or_pending(pg_dsn: str) -> None:
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        for key in ("old-sent", "new-sent", "pending"):
            await q.enqueue(conn, key, "hook", {}, T0)
        old, new = T0, datetime(2026, 3, 9, tzinfo=UTC)
        await conn.execute("UPDATE outbox SET sent_at = %s WHERE key = 'old-sent'", [old])
        await conn.execute("UPDATE outbox SET sent_at = %s WHERE key = 'new-sent'", [new])
        t = {
            "vantage": "k",
            "service": "s",
            "check_id": "c",
            "old": "up",
            "new": "down",
            "instance": "k",
        }
        await q.put_transitions(conn, [{**t, "at": T0.isoformat()}, {**t, "at": new.isoformat()}])
        cut = datetime(2026, 3, 5, tzinfo=UTC)
        assert await q.prune(conn, cut, None) == 1
        assert await q.prune(conn, cut, cut) == 1
        cur = await conn.execute("SELECT key FROM outbox ORDER BY key")
        assert await cur.fetchall() == [("new-sent",), ("pending",)]
        cur = await conn.execute("SELECT count(*) FROM check_transitions")
        assert await cur.fetchone() == (1,)
