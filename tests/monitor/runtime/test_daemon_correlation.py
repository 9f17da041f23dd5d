"""The daemon's correlation: incidents from real probes, and the vantage guard when our network goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from monitor import config
from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def sites() -> AsyncIterator[dict[str, Target]]:
    ts = {
        name: Target(free_port())
        for name in ("privatbank", "oschadbank", "mod", "canary1", "canary2")
    }
    for t in ts.values():
        await t.start()
    yield ts
    for t in ts.values():
        await t.stop()


def make_config(tmp: Path, port: int, ts: dict[str, Target]) -> Path:
    services = "\n".join(
        f'  - {{name: {n}, group: {"government" if n == "mod" else "bank"}, checks: [{{kind: http, url: "{ts[n].url}", id: web}}]}}'
        for n in ("privatbank", "oschadbank", "mod")
    )
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage:
  name: unit
  canaries:
    - {{kind: http, url: "{ts["canary1"].url}", id: c1}}
    - {{kind: http, url: "{ts["canary2"].url}", id: c2}}
storage: {{path: ./ow.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 200ms, timeout: 150ms, failures_before_down: 2, successes_before_up: 1}}
correlation: {{campaign_min_services: 3, campaign_window: 1m, quiet_period: 1s}}
services:
{services}
"""
    )
    return path


async def api(port: int, path: str) -> dict:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}") as r:
        return await r.json()


@pytest.fixture
async def daemon(tmp_path: Path, sites: dict[str, Target]) -> AsyncIterator[tuple[Daemon, int]]:
    """A started daemon whose three services have been seen up; yields (daemon, web port)."""
    port = free_port()
    d = Daemon(config.load(make_config(tmp_path, port, sites)), None)
    await d.start()
    try:
        await wait_for(lambda: _all_up(d), 5, "services never up")
        yield d, port
    finally:
        await d.stop(grace=1)


async def test_three_services_down_make_incidents_and_one_campaign(
    daemon: tuple[Daemon, int], sites: dict[str, Target]
) -> None:
    _, port = daemon
    for n in ("privatbank", "oschadbank", "mod"):
        await sites[n].stop()

    async def three_incidents() -> bool:
        return len((await api(port, "/api/v1/incidents?status=open"))["incidents"]) == 3

    await wait_for(three_incidents, 8, "incidents not stored")
    camps = (await api(port, "/api/v1/campaigns?status=open"))["campaigns"]
    assert len(camps) == 1 and sorted(camps[0]["services"]) == [
        "mod",
        "oschadbank",
        "privatbank",
    ]
    inc = (await api(port, "/api/v1/incidents?service=privatbank"))["incidents"][0]
    assert inc["observed"] and not inc["announced"]
    detail = await api(port, f"/api/v1/incidents/{inc['id']}")
    assert detail["service"] == "privatbank"
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        metrics = await r.text()
    assert 'outwatch_campaign_open{vantage="unit"} 1.0' in metrics
    assert (
        'outwatch_incident_open{announced="false",group="bank",observed="true",service="privatbank",vantage="unit"} 1.0'
        in metrics
    )


async def test_our_network_going_opens_no_service_incident(
    daemon: tuple[Daemon, int], sites: dict[str, Target]
) -> None:
    d, port = daemon
    for t in sites.values():  # targets and canaries fail together: it is us
        await t.stop()

    async def offline() -> bool:
        return d.decisions.offline_since is not None and all(
            d.pipeline.machine.status(n) == "down" for n in ("privatbank", "oschadbank", "mod")
        )

    await wait_for(offline, 8, "vantage never judged offline")
    # decisions written (outages of failing checks keep changing as they fail: not those)
    await wait_for(lambda: _decided(d), 8, "decisions never flushed")
    assert (await api(port, "/api/v1/incidents"))["incidents"] == []
    assert (await api(port, "/api/v1/campaigns"))["campaigns"] == []
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert 'outwatch_vantage_offline{vantage="unit"} 1.0' in await r.text()


async def _all_up(d: Daemon) -> bool:
    return all(d.pipeline.machine.status(n) == "up" for n in ("privatbank", "oschadbank", "mod"))


async def _decided(d: Daemon) -> bool:
    return not d.decisions.pending


async def _flushed(d: Daemon) -> bool:
    return not d.decisions.pending and not d.pipeline.pending_outages
