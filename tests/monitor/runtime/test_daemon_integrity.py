"""The daemon stays truthful: loops survive a bad iteration, reload reaches every part, sources go stale."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitor import config
from monitor.runtime import daemon as daemon_module
from monitor.runtime.daemon import Daemon
from monitor.web.base import LoopHealth
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for
from tests.monitor.runtime.rig import write


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


async def started(path: Path) -> Daemon:
    d = Daemon(config.load(path), str(path))
    await d.start()
    return d


async def request(port: int, path: str, method: str = "GET", **kw: object) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"http://127.0.0.1:{port}{path}", **kw) as r,  # type: ignore[arg-type]
    ):
        return r.status, await r.text()


def stored_results(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])


async def test_flush_loop_survives_an_unexpected_error(tmp_path: Path, target: Target) -> None:
    port = free_port()
    d = await started(write(tmp_path, port, target))
    real = d.pipeline.take_pending
    failed = []

    def broken() -> object:
        if not failed:
            failed.append(1)
            raise RuntimeError("injected")
        return real()

    d.pipeline.take_pending = broken  # type: ignore[method-assign]
    try:
        await wait_for(lambda: _true(bool(failed)), 5, "flush never ran")
        before = stored_results(tmp_path / "ow.db")
        await wait_for(lambda: _true(stored_results(tmp_path / "ow.db") > before), 5)
        status, body = await request(port, "/readyz")
        assert status == 200, body
        _, metrics = await request(port, "/metrics")
        assert 'outwatch_loop_errors_total{loop="store-flush",vantage="unit"} 1.0' in metrics
        assert 'outwatch_loop_up{loop="store-flush",vantage="unit"} 1.0' in metrics
        assert 'outwatch_loop_last_iteration_timestamp_seconds{loop="alerts-outbox"' in metrics
    finally:
        await d.stop(grace=1)


async def test_readyz_fails_when_a_loop_is_dead(tmp_path: Path, target: Target) -> None:
    port = free_port()
    d = await started(write(tmp_path, port, target))
    try:
        assert (await request(port, "/readyz"))[0] == 200
        outbox = next(t for t, _ in d.dispatcher.loops() if t.get_name() == "alerts-outbox")
        outbox.cancel()  # it died
        await asyncio.sleep(0)
        status, body = await request(port, "/readyz")
        assert status == 503 and "loop alerts-outbox stopped" in body
        _, metrics = await request(port, "/metrics")
        assert 'outwatch_loop_up{loop="alerts-outbox",vantage="unit"} 0.0' in metrics
    finally:
        await d.stop(grace=1)


async def test_config_watcher_survives_a_failing_reload_and_stop_still_runs(
    tmp_path: Path, target: Target
) -> None:
    port = free_port()
    path = write(tmp_path, port, target)
    d = await started(path)
    calls = []

    async def broken() -> tuple[bool, str]:
        calls.append(1)
        raise RuntimeError("injected")

    d.reload = broken  # type: ignore[method-assign]
    d.watch_config()
    path.write_text(path.read_text() + "\n# touched\n")
    await wait_for(lambda: _true(bool(calls)), 5, "watcher never reloaded")
    (watch,) = [lp for lp in d.supervisor.health() if lp.name == "config-watch"]
    assert watch.alive and watch.errors == 1
    await d.stop(grace=1)
    assert not d.supervisor.health()  # every loop was cancelled and awaited


async def test_source_stale_fires_when_a_feed_stops(tmp_path: Path, target: Target) -> None:
    feed_port = free_port()

    async def rss(request: web.Request) -> web.Response:
        return web.Response(text=RSS, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/rss", rss)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", feed_port).start()
    port = free_port()
    extra = f"""sources:
  feeds:
    - {{name: cert, url: "http://127.0.0.1:{feed_port}/rss", interval: 200ms, stale_after: 2s}}
"""
    d = await started(write(tmp_path, port, target, extra))
    try:

        async def names() -> set[str]:
            return {v.alert.labels["alertname"] for v in d.dispatcher.alert_views()}

        await wait_for(lambda: _true(d.sources[0].health.last_message_at is not None), 5)
        assert "source_stale" not in await names()
        # the feed goes on answering, but nothing new arrives: after stale_after it is stale
        await wait_for(lambda: _has(names, "source_stale"), 8, "source_stale never fired")
        (view,) = [
            v for v in d.dispatcher.alert_views() if v.alert.labels["alertname"] == "source_stale"
        ]
        assert view.alert.labels["source"] == "cert"
        _, metrics = await request(port, "/metrics")
        assert (
            'outwatch_source_stale_after_seconds{kind="feed",source="cert",vantage="unit"} 2.0'
            in metrics
        )
    finally:
        await d.stop(grace=1)
        await runner.cleanup()


async def test_reload_reaches_every_section(
    tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    ingest = """sources:
  ingest: {{tokens: ["{token}"], rate_limit_per_minute: {rate}}}
correlation: {{quiet_period: {quiet}, campaign_window: {window}}}
scheduler: {{max_concurrency: {conc}}}
"""
    path = write(
        tmp_path,
        port,
        target,
        ingest.format(token="old-tok", rate=100, quiet="15m", window="30m", conc=50),
    )
    d = await started(path)
    try:
        assert await post(port, "old-tok", 1) == 202
        text = path.read_text().replace("vantage: unit", "vantage: lviv-2")
        text = text.replace("busy_timeout: 200ms", "busy_timeout: 300ms")
        text = text.replace(
            ingest.format(token="old-tok", rate=100, quiet="15m", window="30m", conc=50),
            ingest.format(token="new-tok", rate=1, quiet="2m", window="10m", conc=7),
        )
        path.write_text(text)
        ok, detail = await d.reload()
        assert ok, detail
        # ingest: the old token stops working, the new one works, at the new rate
        assert await post(port, "old-tok", 2) == 401
        assert await post(port, "new-tok", 3) == 202
        assert await post(port, "new-tok", 4) == 429
        # correlation windows, probe concurrency and the vantage name
        corr = d.decisions.correlator
        assert corr.cfg.quiet_period == 120 and corr.cfg.campaign_window == 600
        assert corr.vantage_name == "lviv-2"
        assert d.scheduler.max_concurrency == 7
        _, metrics = await request(port, "/metrics")
        assert 'outwatch_build_info{vantage="lviv-2"' in metrics
        # what only a restart applies is named in one log line and a metric
        assert (
            'outwatch_config_restart_required{setting="storage.busy_timeout",vantage="lviv-2"} 1.0'
            in metrics
        )
        lines = [r.getMessage() for r in caplog.records if "after a restart" in r.getMessage()]
        assert lines == ["reload: takes effect after a restart: storage.busy_timeout"]
    finally:
        await d.stop(grace=1)


async def test_removed_service_closes_its_incident_and_resolves_its_alerts(
    tmp_path: Path, target: Target
) -> None:
    port = free_port()
    dead = (
        '  - {name: mod, group: government, checks: [{kind: tcp, target: "127.0.0.1:1", id: tcp}]}'
    )
    path = write(tmp_path, port, target, more=dead)
    d = await started(path)
    try:

        async def alerted() -> bool:
            return any(v.alert.labels.get("service") == "mod" for v in d.dispatcher.alert_views())

        await wait_for(lambda: _true(bool(d.decisions.engine.open_incidents())), 5, "no incident")
        await wait_for(alerted, 5, "no alert for mod")
        write(tmp_path, port, target)
        ok, detail = await d.reload()
        assert ok, detail
        assert d.decisions.engine.open_incidents() == []
        await wait_for(lambda: _not(alerted), 5, "alerts of the removed service still firing")

        async def closed_in_store() -> bool:
            with sqlite3.connect(tmp_path / "ow.db") as conn:
                rows = conn.execute("SELECT ended_at FROM outages WHERE service='mod'").fetchall()
            return bool(rows) and all(r[0] is not None for r in rows)

        await wait_for(closed_in_store, 5, "the outage of the removed service never closed")
    finally:
        await d.stop(grace=1)


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>CERT-UA</title>
<item><guid>1</guid><title>Notice</title><description>Planned works</description>
<pubDate>Tue, 15 Feb 2022 14:00:00 GMT</pubDate></item></channel></rss>"""


async def post(port: int, token: str, n: int) -> int:
    body = {"source": "x", "id": n, "text": "hello", "published_at": "2022-02-15T14:00:00Z"}
    status, _ = await request(
        port,
        "/api/v1/announcements",
        "POST",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    return status


async def _true(value: bool) -> bool:
    return value


async def _has(names: object, name: str) -> bool:
    return name in await names()  # type: ignore[operator]


async def _not(cond: object) -> bool:
    return not await cond()  # type: ignore[operator]


async def test_metrics_lines_are_kept_warm_by_a_supervised_loop(
    tmp_path: Path, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon_module, "WARM_EVERY", 0.05)
    port = free_port()
    d = await started(write(tmp_path, port, target))
    try:

        def warm() -> LoopHealth:
            return next(lp for lp in d.supervisor.health() if lp.name == "metrics-warm")

        first = warm().last_iteration

        async def ran() -> bool:
            return warm().last_iteration > first

        await wait_for(ran, 10, "the warm loop never ran")
        assert warm().live and warm().errors == 0
        _, metrics = await request(port, "/metrics")
        assert 'outwatch_loop_up{loop="metrics-warm",vantage="unit"} 1.0' in metrics
    finally:
        await d.stop(grace=1)
