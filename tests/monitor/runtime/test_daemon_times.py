"""Random times from every border (ingest, a feed, export import) into one running daemon."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import config
from monitor.commands.import_cmd import _import
from monitor.runtime.daemon import Daemon
from monitor.sources.export import Clamped
from monitor.store import incidents as incident_store
from monitor.store.db import Store, put_state
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for

TOKEN = "ingest-token-1"
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
EXTREMES = [
    datetime.min,
    datetime.max,
    datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=14))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
    datetime(1970, 1, 1, tzinfo=UTC),
]
TIMES = st.sampled_from(EXTREMES) | st.datetimes(timezones=st.none() | ZONES)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(ts: datetime) -> str:
    """A pubDate for any datetime, whatever its year (strftime pads years below 1000 oddly)."""
    offset = ts.utcoffset() or timedelta()
    sign, minutes = ("-" if offset < timedelta() else "+"), abs(int(offset.total_seconds())) // 60
    return (
        f"{DAYS[ts.weekday()]}, {ts.day:02d} {MONTHS[ts.month - 1]} {ts.year:04d} "
        f"{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def unix(ts: datetime) -> str:
    try:
        return str(int(ts.timestamp()))
    except (OverflowError, ValueError, OSError):
        return str((ts.toordinal() - 719163) * 86400)  # what a broken exporter might write


@dataclass
class Feed:
    body: str = '<rss version="2.0"><channel><title>f</title></channel></rss>'
    hits: int = 0
    runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.hits += 1
            return web.Response(text=self.body, content_type="application/rss+xml")

        app = web.Application()
        app.router.add_get("/feed.xml", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/feed.xml"


@dataclass
class Rig:
    daemon: Daemon
    port: int
    target: Target
    feed: Feed
    tmp: Path
    cfg: config.Config
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def results(self) -> int:
        with sqlite3.connect(self.cfg.storage.path) as conn:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])

    async def alerts(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/alerts"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 200
            return list(await r.json())


def write_config(tmp: Path, port: int, target: Target, feed: Feed) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""storage: {{path: ./ow.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 200ms, timeout: 150ms, failures_before_down: 1, successes_before_up: 1}}
services:
  - {{name: privatbank, aliases: [ПриватБанк], checks: [{{kind: http, url: "{target.url}"}}]}}
sources:
  ingest: {{tokens: ["{TOKEN}"]}}
  feeds: [{{name: cert, url: "{feed.url}", interval: 200ms}}]
"""
    )
    return path


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.chdir(tmp_path)
    target, feed = Target(free_port()), Feed()
    await target.start()
    await feed.start()
    port = free_port()
    cfg = config.load(write_config(tmp_path, port, target, feed))
    # a snapshot written before times were bounded: it must not stop the start
    seeded = Store(cfg.storage.path)
    bad = {"heard": {"privatbank": [["9999-12-31T23:59:59+14:00", "x/1", "attack"]]}}
    seeded.run_sync(lambda db: put_state(db, incident_store.SNAPSHOT_KEY, bad))
    seeded.close()
    d = Daemon(cfg, None)
    await d.start()
    try:
        yield Rig(d, port, target, feed, tmp_path, cfg)
    finally:
        await d.stop(grace=1)
        await target.stop()
        assert feed.runner is not None
        await feed.runner.cleanup()


async def post_ingest(rig: Rig, ts: datetime, n: int) -> int:
    body = {"source": "cert", "id": n, "text": "DDoS на ПриватБанк", "published_at": ts.isoformat()}
    url = f"http://127.0.0.1:{rig.port}/api/v1/announcements"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers=headers) as r:
        return r.status


async def through_feed(rig: Rig, ts: datetime, n: int) -> None:
    item = f"<item><title>DDoS ПриватБанк {n}</title><guid>g{n}</guid><pubDate>{rfc822(ts)}</pubDate></item>"
    rig.feed.body = f'<rss version="2.0"><channel><title>f</title>{item}</channel></rss>'
    hits = rig.feed.hits
    await until(lambda: rig.feed.hits >= hits + 2, "feed not polled")


async def through_export(rig: Rig, ts: datetime, n: int) -> None:
    messages = [
        {"id": n, "type": "message", "date": ts.isoformat(), "text": "DDoS ПриватБанк"},
        {"id": n + 1, "type": "message", "date_unixtime": unix(ts), "text": "ПриватБанк down"},
    ]
    path = rig.tmp / "result.json"
    path.write_text(json.dumps({"id": 77, "messages": messages}), encoding="utf-8")
    store = Store(rig.cfg.storage.path)
    try:
        await _import(rig.cfg, store, path, None, Clamped())
    finally:
        await asyncio.to_thread(store.close)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ts=TIMES)
async def test_random_times_never_stop_storing_or_alerting(rig: Rig, ts: datetime) -> None:
    """One daemon for every example (the fixture is deliberately shared): it must keep going."""
    d = rig.daemon
    n = next(rig.ids) * 2
    assert await post_ingest(rig, ts, n) in (202, 400)
    await through_feed(rig, ts, n)
    await through_export(rig, ts, n)
    before = rig.results()
    await until(lambda: rig.results() > before, "results stopped being stored")
    loops = d.supervisor.health()
    assert all(h.alive and h.errors == 0 for h in loops), f"a background loop died: {loops}"
    if n % 8 == 0:  # alerts are still evaluated: the service goes down, it fires; back, it ends
        rig.target.mode = "503"
        await wait_for_alert(rig, present=True)
        rig.target.mode = "ok"
        await wait_for_alert(rig, present=False)
    assert d.store_up


async def until(cond: Callable[[], bool], message: str) -> None:
    async def check() -> bool:
        return cond()

    await wait_for(check, 10, message)


async def wait_for_alert(rig: Rig, present: bool) -> None:
    async def check() -> bool:
        names = [a["labels"].get("alertname") for a in await rig.alerts()]
        return ("service_down" in names) == present

    await wait_for(check, 10, f"service_down never {'fired' if present else 'ended'}")
