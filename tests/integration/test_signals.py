"""Signals to the real process: graceful SIGTERM with probes in flight, a forced second signal,
SIGHUP reloads (good and bad), and --watch-config."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from aiohttp import web

from tests.conftest import free_port
from tests.integration.helpers import DaemonProcess, Target, wait_for


class Hanging:
    """A loopback site that answers only after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.port = free_port()
        self.started = 0
        self.finished = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.started += 1
        await asyncio.sleep(self.delay)
        self.finished += 1
        return web.Response(text="slow but fine")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


async def hanging(delay: float) -> tuple[Hanging, web.AppRunner]:
    h = Hanging(delay)
    app = web.Application()
    app.router.add_get("/{tail:.*}", h.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", h.port).start()
    return h, runner


def config(tmp: Path, port: int, services: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: sig-1
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 2, successes_before_up: 1}}
services:
{services}
"""
    )
    return path


def service(name: str, url: str, kind: str = "http", timing: str = "") -> str:
    check = f'{{kind: {kind}, url: "{url}", id: web{timing}}}'
    return f"  - {{name: {name}, group: bank, checks: [{check}]}}\n"


def stored(db: Path, service: str) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = "SELECT ts FROM results WHERE service = ? ORDER BY ts"
        return [r[0] for r in conn.execute(q, [service])]
    finally:
        conn.close()


async def last_ts(daemon: DaemonProcess, name: str) -> str | None:
    last = (await daemon.service(name))["checks"][0]["last"]
    return None if last is None else str(last["at"])


async def test_sigterm_with_probes_in_flight_exits_0_and_flushes(
    tmp_path: Path, target: Target
) -> None:
    slow, runner = await hanging(1.0)
    port = free_port()
    daemon = DaemonProcess(
        config(
            tmp_path,
            port,
            service("slow", slow.url, timing=", interval: 1500ms, timeout: 1400ms")
            + service("fast", target.url),
        ),
        port,
        tmp_path / "log",
    )
    daemon.start()
    try:
        await daemon.wait_ready()
        await wait_for(lambda: _finished(slow, 2), 10, "the slow target was never probed")
        await wait_for(lambda: _in_flight(slow), 5, "no probe in flight")
        fast_seen = await last_ts(daemon, "fast")
        sent_at = datetime.now().astimezone()
        began = time.monotonic()
        assert daemon.stop(signal.SIGTERM, timeout=10) == 0
        took = time.monotonic() - began
    finally:
        daemon.kill()
        await runner.cleanup()
    assert took < 4.0, f"graceful stop took {took:.1f}s"
    log = daemon.log()
    assert "signal received: shutting down" in log and "stopped" in log
    assert "Traceback" not in log, log
    db = tmp_path / "outwatch.db"
    # the probe that was in flight finished within the grace and its result was stored
    assert any(datetime.fromisoformat(ts) > sent_at for ts in stored(db, "slow")), (
        stored(db, "slow")[-3:],
        sent_at,
    )
    # and what the API showed last had reached the disk (flush every second + final flush)
    assert fast_seen is not None and fast_seen in stored(db, "fast")


async def test_second_signal_exits_at_once(tmp_path: Path) -> None:
    slow, runner = await hanging(4.0)
    port = free_port()
    daemon = DaemonProcess(
        config(tmp_path, port, service("slow", slow.url, timing=", interval: 6s, timeout: 5s")),
        port,
        tmp_path / "log",
    )
    daemon.start()
    try:
        await daemon.wait_ready()
        await wait_for(lambda: _in_flight(slow), 5, "no probe in flight")
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)  # graceful: would wait for the 4 s probe

        async def shutting_down() -> bool:
            return "signal received: shutting down" in daemon.log()

        await wait_for(shutting_down, 5, "first signal not acknowledged")
        began = time.monotonic()
        code = daemon.stop(signal.SIGINT, timeout=5)
        took = time.monotonic() - began
    finally:
        daemon.kill()
        await runner.cleanup()
    assert code == 130, daemon.log()
    assert took < 1.0, f"second signal took {took:.2f}s"
    assert "second signal: exiting now" in daemon.log()


async def test_sighup_applies_a_good_config_and_rejects_a_bad_one(
    tmp_path: Path, target: Target
) -> None:
    port = free_port()
    path = config(tmp_path, port, service("privatbank", target.url))
    daemon = DaemonProcess(path, port, tmp_path / "log")
    daemon.start()
    try:
        await daemon.wait_ready()
        path.write_text(path.read_text() + service("oschadbank", target.url))
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        await wait_for(lambda: _listed(daemon, "oschadbank"), 5, "reloaded service not listed")
        await wait_for(lambda: _has_result(daemon, "oschadbank"), 5, "new check never ran")
        assert await _reload_metric(daemon) == "1.0"

        # a typo in the second service's check: rejected whole, the old config keeps running
        good = service("oschadbank", target.url)
        path.write_text(path.read_text().replace(good, service("oschadbank", target.url, "htp")))
        daemon.proc.send_signal(signal.SIGHUP)

        async def rejected() -> bool:
            return await _reload_metric(daemon) == "0.0"

        await wait_for(rejected, 5, "bad config not rejected")
        seen = await last_ts(daemon, "oschadbank")
        await wait_for(lambda: _newer(daemon, "oschadbank", seen), 5, "old checks stopped")
        _, metrics = await daemon.get("/metrics")
        assert "outwatch_config_last_reload_success_timestamp_seconds" in metrics
        lines = [ln for ln in daemon.log().splitlines() if "reload rejected" in ln]
        assert lines, daemon.log()
        assert any("config.yaml" in ln and "services[1].checks[0].kind" in ln for ln in lines), (
            lines
        )
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    assert "Traceback" not in daemon.log()


async def test_watch_config_picks_up_an_edit(tmp_path: Path, target: Target) -> None:
    port = free_port()
    path = config(tmp_path, port, service("privatbank", target.url))
    daemon = DaemonProcess(path, port, tmp_path / "log")
    daemon.start("--watch-config")
    try:
        await daemon.wait_ready()
        path.write_text(path.read_text() + service("monobank", target.url))
        took = await wait_for(lambda: _listed(daemon, "monobank"), 8, "edit not picked up")
        assert await _reload_metric(daemon) == "1.0"
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    print(f"--watch-config applied an edit in {took:.1f}s")


async def _finished(h: Hanging, n: int) -> bool:
    return h.finished >= n


async def _in_flight(h: Hanging) -> bool:
    return h.started > h.finished


async def _listed(daemon: DaemonProcess, name: str) -> bool:
    _, body = await daemon.get("/api/v1/services")
    return any(s["name"] == name for s in body["services"])


async def _has_result(daemon: DaemonProcess, name: str) -> bool:
    return await last_ts(daemon, name) is not None


async def _newer(daemon: DaemonProcess, name: str, than: str | None) -> bool:
    now = await last_ts(daemon, name)
    return now is not None and now != than


async def _reload_metric(daemon: DaemonProcess) -> str:
    _, metrics = await daemon.get("/metrics")
    for line in metrics.splitlines():
        if line.startswith("outwatch_config_last_reload_successful{"):
            return line.rsplit(" ", 1)[1]
    raise AssertionError("no outwatch_config_last_reload_successful in /metrics")
