"""The quorum rule live: two outwatch vantages probe one service; one seeing it down pages nobody.

Each vantage reaches the same site by its own path, so a test can fail it for one vantage
only (as a regional block would). Prometheus runs rules.yml with `for:` dropped, so alerts
fire on the first evaluation instead of after a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from tests.conftest import free_port, require_binary
from tests.deploy.prom import Prometheus
from tests.integration.helpers import DaemonProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

VANTAGES = ("kyiv-1", "lviv-1")


@dataclass
class Site:
    """One loopback site; `failing` holds the vantages it answers 503 to."""

    port: int
    failing: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["vantage"] in self.failing:
            return web.Response(status=503, text="Service Unavailable")
        return web.Response(text="ok")


@dataclass
class Quorum:
    """Two daemons, one site, one Prometheus."""

    site: Site
    prometheus: Prometheus

    def firing(self, alertname: str) -> list[str]:
        """Services the alert fires for."""
        rows = self.prometheus.series(
            f'ALERTS{{alertname="{alertname}", alertstate="firing", service="mod"}}'
        )
        return sorted(r["metric"]["service"] for r in rows)

    def status(self) -> dict[str, str]:
        """Vantage -> outwatch_service_status of mod, as Prometheus has it."""
        rows = self.prometheus.series('outwatch_service_status{service="mod"}')
        return {r["metric"]["vantage"]: r["value"][1] for r in rows}


def _config(tmp: Path, vantage: str, port: int, site: Site) -> Path:
    path = tmp / vantage / "config.yaml"
    path.parent.mkdir()
    path.write_text(
        f"""vantage: {vantage}
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - name: mod
    group: government
    checks:
      - {{kind: http, url: "http://127.0.0.1:{site.port}/{vantage}", id: web}}
"""
    )
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def quorum(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Quorum]:
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("quorum")
    site = Site(free_port())
    app = web.Application()
    app.router.add_get("/{vantage}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", site.port).start()
    daemons = []
    for vantage in VANTAGES:
        port = free_port()
        daemons.append(
            DaemonProcess(_config(tmp, vantage, port, site), port, tmp / f"{vantage}.log")
        )
    prometheus = Prometheus(tmp, [f"127.0.0.1:{d.port}" for d in daemons], drop_for=True)
    prometheus.start()
    for d in daemons:
        d.start()
    q = Quorum(site, prometheus)
    try:
        for d in daemons:
            await d.wait_ready()
        yield q
    finally:
        prometheus.stop()
        for d in daemons:
            d.kill()
        await runner.cleanup()


async def _until(cond: Callable[[], bool], what: str, q: Quorum) -> None:
    async def check() -> bool:
        return cond()

    await wait_for(check, 20, f"{what}; Prometheus sees {q.status()}\n{q.prometheus.log()}")


async def test_down_at_one_vantage_does_not_page_and_at_two_does(quorum: Quorum) -> None:
    q = quorum
    await _until(lambda: q.status() == {"kyiv-1": "0", "lviv-1": "0"}, "never up at both", q)

    q.site.failing = {"kyiv-1"}
    await _until(lambda: q.status() == {"kyiv-1": "2", "lviv-1": "0"}, "never down at kyiv-1", q)
    # the below-quorum warning fires, which proves the rules ran on this state...
    await _until(lambda: q.firing("OutwatchServiceDownPartial") == ["mod"], "no partial alert", q)
    # ...and the page does not
    assert q.firing("OutwatchServiceDown") == []

    q.site.failing = {"kyiv-1", "lviv-1"}
    await _until(lambda: q.firing("OutwatchServiceDown") == ["mod"], "quorum never paged", q)
    assert q.firing("OutwatchServiceDownPartial") == []
