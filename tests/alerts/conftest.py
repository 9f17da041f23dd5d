"""Helpers for alerting tests: a recording HTTP server, a store, a dispatcher factory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from alerts.base import Alert
from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from monitor.core.base import SystemClock
from monitor.store.db import Store
from tests.conftest import free_port, require_binary

T0 = datetime(2022, 2, 15, 10, 0, tzinfo=UTC)


def alert(name: str = "service_down", **labels: str) -> Alert:
    """An alert with the given labels (vantage kyiv-1 unless given)."""
    labels.setdefault("vantage", "kyiv-1")
    return Alert(
        labels={"alertname": name, **labels},
        annotations={"summary": f"{labels.get('service', 'x')} is down"},
        starts_at=T0,
    )


@dataclass
class Hit:
    """One request the recorder saw."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    default: tuple[int, dict[str, str], str] = (200, {}, "ok")
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body, time.monotonic()))
        if self.delay:
            await asyncio.sleep(self.delay)
        status, headers, text = self.script.pop(0) if self.script else self.default
        return web.Response(status=status, headers=headers, text=text)

    def ok_hits(self) -> list[Hit]:
        """Requests answered (or to be answered) with success: all but the scripted failures."""
        return self.hits


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}"
    yield rec
    await runner.cleanup()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "outwatch.db"))
    yield s
    s.close()


DispatcherFactory = Callable[..., Any]


@pytest.fixture
async def make_dispatcher(store: Store) -> AsyncIterator[DispatcherFactory]:
    """Build and start dispatchers from a config dict; stopped at the end of the test."""
    started: list[Dispatcher] = []

    async def make(
        cfg: dict[str, Any], clock: Any = None, start: bool = True, **kw: Any
    ) -> Dispatcher:
        d = Dispatcher(
            AlertsConfig.model_validate(cfg),
            store,
            clock=clock or SystemClock(),
            vantage="kyiv-1",
            external_url="http://outwatch.test/",
            **kw,
        )
        if start:
            await d.start()
        else:
            await d.open()
        started.append(d)
        return d

    yield make
    for d in started:
        await d.stop()


async def until(pred: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until pred() holds (polling), failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def alertmanager_binary(name: str = "alertmanager") -> str:
    """Debian's prometheus-alertmanager (or amtool), or an upstream build on PATH."""
    for candidate in (f"prometheus-{name}", name):
        found = shutil.which(candidate)
        if found:
            return found
    return require_binary(name)  # skips locally, fails in CI


@contextlib.asynccontextmanager
async def running_alertmanager(tmp_path: Path, config: str) -> AsyncIterator[str]:
    """A real Alertmanager on a free loopback port with `config`; yields its base URL."""
    binary = alertmanager_binary()
    (tmp_path / "am.yml").write_text(config)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'am.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with s.get(f"{url}/-/ready") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            await proc.wait()
