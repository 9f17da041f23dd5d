"""The store in trouble (read-only file, full disk): a clear error and a metric, probing and
alerting go on from memory, and what was kept is written once the store is back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.integration.helpers import DaemonProcess, Target, wait_for


class Hook:
    """A webhook receiver keeping the alert names it was sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.alerts: list[tuple[str, str]] = []  # (alertname, status)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.alerts += [(a["labels"]["alertname"], a["status"]) for a in body["alerts"]]
        return web.Response(text="ok")


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    app = web.Application()
    app.router.add_post("/hook", h.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", h.port).start()
    yield h
    await runner.cleanup()


def write_config(tmp: Path, port: int, target: Target, hook: Hook, db: Path) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: st-1
storage: {{path: "{db}", busy_timeout: 200ms}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 200ms, timeout: 150ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - name: privatbank
    group: bank
    checks: [{{kind: http, url: "{target.url}", id: web}}]
alerts:
  route: {{receiver: hook, group_by: [service], group_wait: 100ms, group_interval: 300ms}}
  receivers: [{{name: hook, kind: webhook, url: "http://127.0.0.1:{hook.port}/hook"}}]
"""
    )
    return path


async def metric(daemon: DaemonProcess, name: str) -> str:
    _, text = await daemon.get("/metrics")
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return line.rsplit(" ", 1)[1]
    raise AssertionError(f"{name} not in /metrics")


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def read_only(path: Path) -> Callable[[], None]:
    """Make `path` unwritable for this user; returns how to undo it (skips if it can't)."""
    path.chmod(0o400)
    if not os.access(path, os.W_OK):
        return lambda: path.chmod(0o600)
    # root ignores the mode bits: the immutable attribute is what read-only means to root
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode == 0:

        def undo() -> None:
            subprocess.run([chattr, "-i", str(path)], check=True)
            path.chmod(0o600)

        return undo
    path.chmod(0o600)
    pytest.skip(
        "running as root without chattr +i (CAP_LINUX_IMMUTABLE): cannot make a file read-only"
    )


async def test_read_only_database_keeps_probing_and_alerting(
    tmp_path: Path, target: Target, hook: Hook
) -> None:
    db = tmp_path / "outwatch.db"
    await trouble(tmp_path, target, hook, db, lambda: read_only(db), "readonly database")


async def test_full_disk_keeps_probing_and_alerting(
    tmp_path: Path, target: Target, hook: Hook
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # a real full disk: a small tmpfs (SQLite's max_page_count can't be set from outside)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mount.stderr.strip()}")
    try:
        await trouble(
            tmp_path, target, hook, disk / "outwatch.db", lambda: fill(disk), "disk is full"
        )
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Callable[[], None]:
    """Fill the file system to the last byte; returns how to free it again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler.unlink


async def trouble(
    tmp_path: Path,
    target: Target,
    hook: Hook,
    db: Path,
    make: Callable[[], Callable[[], None]],
    why: str,
) -> None:
    """First run makes the db; the trouble starts; a second run must probe, alert, then recover."""
    port = free_port()
    daemon = DaemonProcess(write_config(tmp_path, port, target, hook, db), port, tmp_path / "log")
    daemon.start()
    await daemon.wait_ready()
    await wait_for(lambda: _stored(db, "SELECT count(*) FROM results"), 5, "no results stored")
    assert daemon.stop() == 0
    before = count(db, "SELECT count(*) FROM results")

    undo = make()
    try:
        daemon.start()
        await daemon.wait_ready()
        await wait_for(lambda: _is(daemon, "outwatch_store_up", "0.0"), 5, "store_up not 0")
        assert_one_clear_line(daemon.log(), db, why)
        await target.stop()
        await wait_for(lambda: _status(daemon, "down"), 5, "probing stopped")
        await wait_for(
            lambda: _alerted(hook, "service_down", "firing"), 5, f"no alert {hook.alerts}"
        )
    finally:
        undo()
    try:
        await wait_for(lambda: _is(daemon, "outwatch_store_up", "1.0"), 5, "store never came back")
        await target.start()
        await wait_for(lambda: _status(daemon, "up"), 5, "never back up")
        await wait_for(lambda: _alerted(hook, "service_down", "resolved"), 5, f"{hook.alerts}")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    # what it kept in memory reached the disk: the outage, and results from the trouble time
    assert count(db, "SELECT count(*) FROM outages WHERE ended_at IS NOT NULL") == 1
    assert count(db, "SELECT count(*) FROM results WHERE ok = 0") >= 2
    assert count(db, "SELECT count(*) FROM results") > before
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert "Traceback" not in daemon.log(), daemon.log()


def assert_one_clear_line(log: str, db: Path, why: str) -> None:
    """The daemon says once, on one line, which file and what is wrong (alerting may say so too)."""
    lines = [ln for ln in log.splitlines() if "store unavailable" in ln]
    assert len([ln for ln in lines if "keeping state in memory" in ln]) == 1, log
    assert all(str(db) in ln and why in ln for ln in lines), lines
    assert "Traceback" not in log, log


async def _stored(db: Path, sql: str) -> bool:
    try:
        return count(db, sql) > 0
    except sqlite3.Error:
        return False


async def _is(daemon: DaemonProcess, name: str, want: str) -> bool:
    return await metric(daemon, name) == want


async def _status(daemon: DaemonProcess, want: str) -> bool:
    return (await daemon.service("privatbank"))["status"] == want


async def _alerted(hook: Hook, name: str, status: str) -> bool:
    await asyncio.sleep(0)
    return (name, status) in hook.alerts
