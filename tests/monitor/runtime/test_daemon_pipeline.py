"""The whole chain in one daemon: probe failure + official notice -> confirmed incident -> page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor import config
from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for

TOKEN = "ingest-secret-4242"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


class Hook:
    """A webhook receiver that keeps what it was sent."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        self.payloads.append(await request.json())
        return web.Response(text="ok")

    def alertnames(self) -> set[str]:
        return {a["labels"]["alertname"] for p in self.payloads for a in p["alerts"]}


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    app = web.Application()
    app.router.add_post("/hook", h.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", h.port).start()
    yield h
    await runner.cleanup()


async def test_notice_confirms_outage_boosts_and_pages(tmp_path: Path, hook: Hook) -> None:
    bank = Target(free_port())
    await bank.start()
    port = free_port()
    (tmp_path / "config.yaml").write_text(
        f"""vantage: unit
storage: {{path: ./ow.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 1s, timeout: 300ms, failures_before_down: 2, successes_before_up: 1}}
correlation: {{boost_interval: 200ms}}
services:
  - name: privatbank
    title: PrivatBank
    group: bank
    aliases: [ПриватБанк, PrivatBank]
    checks: [{{kind: http, url: "{bank.url}", id: web}}]
sources:
  ingest: {{tokens: ["{TOKEN}"]}}
alerts:
  route: {{receiver: hook, group_by: [service], group_wait: 100ms, group_interval: 200ms}}
  receivers: [{{name: hook, kind: webhook, url: "http://127.0.0.1:{hook.port}/hook"}}]
"""
    )
    d = Daemon(config.load(tmp_path / "config.yaml"), str(tmp_path / "config.yaml"))
    await d.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            notice = {
                "source": "cert",
                "id": "1",
                "published_at": "2026-01-01T00:00:00Z",
                "text": "Масована DDoS-атака на ПриватБанк: <script>alert(1)</script>",
            }
            async with s.post(f"{base}/api/v1/announcements", json=notice) as r:
                assert r.status == 401  # no token
            notice["published_at"] = d.clock.now().isoformat()
            async with s.post(
                f"{base}/api/v1/announcements",
                json=notice,
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r:
                assert r.status == 202, await r.text()

            async def boosted() -> bool:
                return d.scheduler.interval("privatbank/web") == 0.2

            await wait_for(boosted, 5, "a notice naming the service did not boost its checks")
            await bank.stop()

            async def confirmed() -> bool:
                async with s.get(f"{base}/api/v1/incidents?status=open") as r:
                    body = await r.json()
                return any(i["confirmed"] for i in body["incidents"])

            await wait_for(confirmed, 8, "incident never confirmed")
            await wait_for(
                lambda: _has(hook, "incident_confirmed"), 5, f"not paged: {hook.payloads}"
            )
            assert "service_down" in hook.alertnames()
            async with s.get(f"{base}/api/v1/incidents?status=open") as r:
                inc = (await r.json())["incidents"][0]
            async with s.get(f"{base}/api/v1/incidents/{inc['id']}") as r:
                detail = await r.json()
            assert detail["notices"][0]["key"] == "ingest:cert/1"
            async with s.get(f"{base}/") as r:
                page = await r.text()
                assert r.headers["Content-Security-Policy"]
            assert "PrivatBank" in page and "<script>alert(1)" not in page
            async with s.get(f"{base}/metrics") as r:
                metrics = await r.text()
            assert (
                'outwatch_announcements_total{kind="attack",source="ingest:cert",vantage="unit"} 1.0'
                in metrics
            )
            assert 'outwatch_notifications_total{receiver="hook",vantage="unit"}' in metrics
            assert TOKEN not in json.dumps(hook.payloads) and TOKEN not in metrics
    finally:
        await d.stop(grace=1)
        await bank.stop()


async def _has(hook: Hook, name: str) -> bool:
    return name in hook.alertnames()
