"""The decider's notifications keep the route's group_wait, group_interval and repeat_interval
across a failover, and a notification re-sent after one carries the same idempotency key; against
a real PostgreSQL and a loopback webhook, with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg
import pytest

from monitor import config
from monitor.config import Config
from monitor.core.alertrules import SourceFacts
from monitor.core.base import FakeClock
from monitor.runtime.dbcalls import Calls
from monitor.runtime.decider import Decider
from tests.monitor.runtime.fleet_helpers import Hook
from tests.monitor.runtime.test_decider_alerts import publish


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    await h.start()
    yield h
    await h.stop()


def fleet_config(dsn: str, port: int, tmp: Path, timers: str) -> Config:
    text = f"""vantage: {{name: kyiv}}
storage: {{path: ./kyiv.db, url: "{dsn}"}}
fleet: {{quorum: 2, spool_path: ./kyiv.spool, stale_after: 1h}}
alerts:
  route: {{receiver: hook, group_by: [alertname], {timers}}}
  receivers:
    - {{name: hook, kind: webhook, url: "http://127.0.0.1:{port}/"}}
services:
  - name: bank
    checks: [{{kind: http, url: "http://127.0.0.1:9/", id: web}}]
"""
    return config.parse(text, str(tmp / "kyiv.yaml"), tmp)


async def source_down(dsn: str, now: datetime) -> None:
    """kyiv-0 publishes that its Telegram source is disconnected: one fleet alert fires."""
    since = now - timedelta(hours=1)
    down = SourceFacts("bank_official", "telegram", False, since, since, None)
    await publish(dsn, "kyiv-0", "kyiv", None, sources=[down])


def decider(cfg: Config, clock: FakeClock, dsn: str, instance: str) -> Decider:
    d = Decider(cfg, clock, dsn, instance, Calls())
    d.session = aiohttp.ClientSession()
    return d


async def round_at(d: Decider, clock: FakeClock, at: datetime) -> None:
    """One decision round (decide, then send what is due) at `at`."""
    clock.set(at)
    await d.step()
    assert d.is_decider


async def test_group_wait_holds_the_first_notification(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    await source_down(pg_dsn, t0)
    cfg = fleet_config(pg_dsn, hook.port, tmp_path, "group_wait: 30s, group_interval: 5m")
    clock = FakeClock(t0)
    d = decider(cfg, clock, pg_dsn, "kyiv-0")
    try:
        await round_at(d, clock, t0)
        await round_at(d, clock, t0 + timedelta(seconds=29))
        assert hook.hits == []  # the group waits for its siblings
        await round_at(d, clock, t0 + timedelta(seconds=31))
        assert [p["status"] for _, p in hook.hits] == ["firing"]
    finally:
        await d.close()


async def test_repeat_interval_repeats_once_after_failover_not_earlier(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    await source_down(pg_dsn, t0)
    timers = "group_wait: 0s, group_interval: 10s, repeat_interval: 60s"
    cfg = fleet_config(pg_dsn, hook.port, tmp_path, timers)
    clock = FakeClock(t0)
    first = decider(cfg, clock, pg_dsn, "kyiv-0")
    try:
        await round_at(first, clock, t0)
        await round_at(first, clock, t0 + timedelta(seconds=30))
        assert len(hook.hits) == 1
    finally:
        await first.close()  # its session ends: the lock is free
    second = decider(cfg, clock, pg_dsn, "kyiv-1")
    try:
        # a successor that forgot the log would send at once; one that forgot the timer would
        # hold a new group_wait; this one flushes every 10 s from t0+40s and repeats after t0+60s
        for s in (31, 41, 55):
            await round_at(second, clock, t0 + timedelta(seconds=s))
        assert len(hook.hits) == 1
        # the repeat goes with the first flush once repeat_interval has passed (t0+65s due)
        await round_at(second, clock, t0 + timedelta(seconds=66))
        assert len(hook.hits) == 2
        for s in (77, 100, 120):
            await round_at(second, clock, t0 + timedelta(seconds=s))
        assert len(hook.hits) == 2
        await round_at(second, clock, t0 + timedelta(seconds=131))
        assert len(hook.hits) == 3
    finally:
        await second.close()
    ids = [h[IDEMPOTENCY] for h, _ in hook.hits]
    assert len(set(ids)) == 3  # each repeat is a notification of its own


IDEMPOTENCY = "Idempotency-Key"


async def test_a_resend_after_failover_carries_the_same_idempotency_key(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    """The at-least-once window: the receiver has the notification, the decider dies before it
    commits the outbox row as sent; its successor sends the row again, under the same key."""
    t0 = datetime.now(UTC)
    await source_down(pg_dsn, t0)
    cfg = fleet_config(pg_dsn, hook.port, tmp_path, "group_wait: 0s")
    clock = FakeClock(t0)

    async def kill_the_deciders_session() -> None:
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'outwatch kyiv-0 decider'"
            )

    hook.before = kill_the_deciders_session
    first = decider(cfg, clock, pg_dsn, "kyiv-0")
    try:
        clock.set(t0)
        await first.step()
        assert not first.is_decider  # it lost its session before it could record the send
    finally:
        await first.close()
    second = decider(cfg, clock, pg_dsn, "kyiv-1")
    try:
        await round_at(second, clock, t0 + timedelta(seconds=1))
        await round_at(second, clock, t0 + timedelta(seconds=2))
    finally:
        await second.close()
    assert len(hook.hits) == 2
    (h1, p1), (h2, p2) = hook.hits
    assert h1[IDEMPOTENCY] == h2[IDEMPOTENCY] == p1["idempotencyKey"] == p2["idempotencyKey"]
    assert p1 == p2
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT key, sent_at IS NOT NULL FROM outbox").fetchall()
    assert rows == [(h1[IDEMPOTENCY], True)]


async def test_alerts_told_before_the_groups_were_kept_are_not_paged_again(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    await source_down(pg_dsn, t0)
    cfg = fleet_config(pg_dsn, hook.port, tmp_path, "group_wait: 0s, group_interval: 10s")
    clock = FakeClock(t0)
    first = decider(cfg, clock, pg_dsn, "kyiv-0")
    try:
        await round_at(first, clock, t0)
    finally:
        await first.close()
    assert len(hook.hits) == 1
    # what a decider of schema 3 left: the firing alerts it told, no groups, no log
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE fleet_memory SET value = value - 'groups'")
        conn.execute("DELETE FROM fleet_nflog")
    second = decider(cfg, clock, pg_dsn, "kyiv-1")
    try:
        for s in (1, 11, 21):
            await round_at(second, clock, t0 + timedelta(seconds=s))
    finally:
        await second.close()
    assert len(hook.hits) == 1
