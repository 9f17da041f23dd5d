"""Scale-out live: shards split the checks exactly, and the quorum rule needs two vantages.

Four daemons and one Prometheus (Debian's binary, deploy/prometheus/rules.yml with `for:`
dropped) on loopback:

- kyiv-1 and lviv-1 probe the same services; each reaches privatbank at its own port (as two
  regions would reach one bank by different routes), so a test can take it down for one
  vantage only;
- kharkiv-1 runs as two shards (`shard: {index: 0|1, total: 2}`) over the same services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import free_port, require_binary
from tests.deploy.prom import Prometheus
from tests.integration.helpers import DaemonProcess, Target, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SERVICES = ("privatbank", "oschadbank", "mod", "zsu", "monobank", "kyivstar", "diia", "ukrnet")
QUORUM = "count by (service) (outwatch_service_status == 2) >= 2"


@dataclass
class Cluster:
    """The daemons, their targets, and the Prometheus scraping them."""

    kyiv_bank: Target  # privatbank as kyiv-1 reaches it
    lviv_bank: Target  # privatbank as lviv-1 reaches it
    prometheus: Prometheus

    def firing(self, alertname: str) -> list[str]:
        """Services the alert fires for."""
        rows = self.prometheus.series(f'ALERTS{{alertname="{alertname}", alertstate="firing"}}')
        return sorted(r["metric"]["service"] for r in rows)

    def status(self, service: str = "privatbank") -> dict[str, str]:
        """Vantage -> outwatch_service_status of a service, from the two full vantages."""
        rows = self.prometheus.series(
            f'outwatch_service_status{{service="{service}", vantage=~"kyiv-1|lviv-1"}}'
        )
        return {r["metric"]["vantage"]: r["value"][1] for r in rows}


def _config(path: Path, vantage: str, port: int, bank: Target, other: Target, shard: str) -> Path:
    services = "\n".join(
        f"""  - name: {name}
    checks:
      - {{kind: http, url: "{(bank if name == "privatbank" else other).url}{name}", id: web}}"""
        for name in SERVICES
    )
    path.mkdir()
    cfg = path / "config.yaml"
    cfg.write_text(
        f"""vantage: {vantage}
{shard}
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 2, successes_before_up: 1}}
services:
{services}
"""
    )
    return cfg


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("scaleout")
    kyiv_bank, lviv_bank, other = (Target(free_port()) for _ in range(3))
    for t in (kyiv_bank, lviv_bank, other):
        await t.start()
    plan = [
        ("kyiv-1", kyiv_bank, "", "kyiv"),
        ("lviv-1", lviv_bank, "", "lviv"),
        ("kharkiv-1", other, "shard: {index: 0, total: 2}", "kharkiv-0"),
        ("kharkiv-1", other, "shard: {index: 1, total: 2}", "kharkiv-1"),
    ]
    daemons = []
    for vantage, bank, shard, name in plan:
        port = free_port()
        cfg = _config(tmp / name, vantage, port, bank, other, shard)
        daemons.append(DaemonProcess(cfg, port, tmp / f"{name}.log"))
    prometheus = Prometheus(tmp, [f"127.0.0.1:{d.port}" for d in daemons], drop_for=True)
    prometheus.start()
    for d in daemons:
        d.start()
    try:
        for d in daemons:
            await d.wait_ready()
        yield Cluster(kyiv_bank, lviv_bank, prometheus)
    finally:
        prometheus.stop()
        for d in daemons:
            d.kill()
        for t in (kyiv_bank, lviv_bank, other):
            await t.stop()


async def _until(cond: Callable[[], bool], what: str, c: Cluster) -> None:
    async def check() -> bool:
        return cond()

    await wait_for(check, 20, f"{what}; Prometheus sees {c.status()}\n{c.prometheus.log()}")


async def test_shards_cover_every_check_exactly_once(cluster: Cluster) -> None:
    prom = cluster.prometheus
    series = 'outwatch_probes_total{vantage="kharkiv-1"}'

    def probed() -> dict[str, set[str]]:
        """Instance -> services it probed."""
        out: dict[str, set[str]] = {}
        for r in prom.series(series):
            out.setdefault(r["metric"]["instance"], set()).add(r["metric"]["service"])
        return out

    def covered() -> bool:
        return sum(len(s) for s in probed().values()) == len(SERVICES)

    await _until(covered, "shards never covered every check", cluster)
    shards = list(probed().values())
    assert len(shards) == 2 and all(shards), shards  # both shards have work
    assert shards[0] | shards[1] == set(SERVICES)
    assert shards[0] & shards[1] == set()
    # every series carries the vantage; the full vantages probe everything
    for vantage in ("kyiv-1", "lviv-1"):
        selector = f'outwatch_probes_total{{vantage="{vantage}"}}'

        def full(selector: str = selector) -> bool:
            return {r["metric"]["service"] for r in prom.series(selector)} == set(SERVICES)

        await _until(full, f"{vantage} never probed every service", cluster)


async def test_down_at_one_vantage_is_no_quorum_down_at_two_is(cluster: Cluster) -> None:
    c = cluster

    def quorum() -> list[str]:
        return sorted(r["metric"]["service"] for r in c.prometheus.series(QUORUM))

    await _until(lambda: c.status() == {"kyiv-1": "0", "lviv-1": "0"}, "never up at both", c)

    await c.kyiv_bank.stop()  # privatbank refuses kyiv-1 only
    await _until(lambda: c.status() == {"kyiv-1": "2", "lviv-1": "0"}, "never down at kyiv-1", c)
    # the below-quorum warning fires, which proves the rules ran on this state...
    await _until(lambda: "privatbank" in c.firing("OutwatchServiceDownPartial"), "no partial", c)
    # ...and neither the page nor the bare quorum expression does
    assert "privatbank" not in c.firing("OutwatchServiceDown")
    assert quorum() == []

    await c.lviv_bank.stop()  # now both vantages see it down
    await _until(lambda: "privatbank" in c.firing("OutwatchServiceDown"), "quorum never paged", c)
    assert quorum() == ["privatbank"]
    assert "privatbank" not in c.firing("OutwatchServiceDownPartial")
    # the other services stayed up everywhere: the page is about privatbank alone
    assert c.firing("OutwatchServiceDown") == ["privatbank"]
