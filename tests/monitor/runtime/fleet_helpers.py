"""A fleet of in-process daemons sharing one PostgreSQL, loopback targets per vantage, a webhook."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from monitor import config
from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target

VANTAGES = ("kyiv", "lviv", "odesa")
SERVICES = ("bank", "gov")


class Hook:
    """A loopback webhook that keeps every alert it is sent (bodies in `posts`, headers with
    bodies in `hits`); `before`, when set, runs once before it answers 200 (the receiver has
    the notification by then)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.posts: list[dict[str, Any]] = []
        self.hits: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.before: Callable[[], Awaitable[None]] | None = None
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self.posts.append(body)
        self.hits.append((dict(request.headers), body))
        if self.before is not None:
            before, self.before = self.before, None
            await before()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def alerts(self, receiver: str = "hook") -> list[tuple[str, str, str]]:
        """(status, service or alert name, vantages_down) of every alert `receiver` was sent."""
        return [
            (
                a["status"],
                a["labels"].get("service") or a["labels"]["alertname"],
                a["annotations"].get("vantages_down", ""),
            )
            for p in self.posts
            if p["receiver"] == receiver
            for a in p["alerts"]
        ]


def config_text(
    vantage: str,
    shard: int,
    shards: int,
    dsn: str,
    hook: Hook,
    targets: dict[str, Target],
    canary: Target,
    port: int = 0,
) -> str:
    checks = "\n".join(
        f"""  - name: {s}
    group: {s}
    aliases: [{s}]
    checks: [{{kind: http, url: "{targets[s].url}", id: web}}]"""
        for s in SERVICES
    )
    return f"""vantage:
  name: {vantage}
  canaries: [{{kind: http, url: "{canary.url}", id: canary}}]
storage: {{path: ./{vantage}-{shard}.db, url: "{dsn}"}}
shard: {{index: {shard}, total: {shards}}}
fleet: {{quorum: 2, spool_path: ./{vantage}-{shard}.spool, stale_after: 10s}}
web: {{listen: "127.0.0.1:{port or free_port()}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 2, successes_before_up: 1}}
correlation: {{campaign_min_services: 2, quiet_period: 1s}}
alerts:
  route: {{receiver: hook, group_wait: 0s, group_interval: 1s, routes: [{{receiver: hook, continue: true}}, {{receiver: oncall}}]}}
  receivers:
    - {{name: hook, kind: webhook, url: "http://127.0.0.1:{hook.port}/"}}
    - {{name: oncall, kind: webhook, url: "http://127.0.0.1:{hook.port}/"}}
services:
{checks}
"""


async def start_daemon(tmp: Path, text: str, name: str) -> Daemon:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    cfg = config.parse(text, str(path), tmp)
    d = Daemon(cfg, str(path))
    await d.start()
    return d
