"""Three vantages x two shards sharing one PostgreSQL: quorum, one incident, one notification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for
from tests.monitor.runtime.fleet_helpers import SERVICES, VANTAGES, Hook, config_text, start_daemon


class Fleet:
    """Targets per vantage and service, a canary per vantage, the daemons, the webhook."""

    def __init__(self) -> None:
        self.targets = {v: {s: Target(free_port()) for s in SERVICES} for v in VANTAGES}
        self.canaries = {v: Target(free_port()) for v in VANTAGES}
        self.hook = Hook()
        self.daemons: list[Daemon] = []

    def decider(self) -> list[Daemon]:
        return [d for d in self.daemons if d.fleet is not None and d.fleet.is_decider]

    async def api(self, what: str) -> list[dict]:
        port = self.daemons[-1].listen_port
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{port}/api/v1/fleet/{what}") as r,
        ):
            assert r.status == 200, await r.text()
            return list(await r.json())

    async def text(self, d: Daemon, path: str) -> str:
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{d.listen_port}{path}") as r,
        ):
            assert r.status == 200
            return await r.text()

    async def status(self, service: str) -> dict:
        rows = {r["service"]: r for r in await self.api("services")}
        return rows.get(service, {"status": "unknown", "vantages": {}})


@pytest.fixture
async def fleet(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Fleet]:
    monkeypatch.chdir(tmp_path)
    f = Fleet()
    for t in [*f.canaries.values(), *(t for v in f.targets.values() for t in v.values())]:
        await t.start()
    await f.hook.start()
    for v in VANTAGES:
        for shard in range(2):
            text = config_text(v, shard, 2, pg_dsn, f.hook, f.targets[v], f.canaries[v])
            f.daemons.append(await start_daemon(tmp_path, text, f"{v}-{shard}"))
    yield f
    for d in f.daemons:
        await d.stop(grace=1.0)
    await f.hook.stop()
    for t in [*f.canaries.values(), *(t for v in f.targets.values() for t in v.values())]:
        await t.stop()


async def test_quorum_pages_once_and_names_the_vantages(fleet: Fleet) -> None:
    async def one_decider() -> bool:
        return len(fleet.decider()) == 1

    async def all_up() -> bool:
        return [(await fleet.status(s))["status"] for s in SERVICES] == ["up"] * len(SERVICES)

    await wait_for(one_decider, 15, "no decider")
    await wait_for(all_up, 20, "the fleet never saw every service up")

    # down from one vantage of three: degraded, that vantage named, no incident, no page
    await fleet.targets["kyiv"]["bank"].stop()

    async def degraded() -> bool:
        st = await fleet.status("bank")
        return st["status"] == "degraded" and st["vantages"]["down"] == ["kyiv"]

    await wait_for(degraded, 15, "bank never shown degraded from kyiv")
    assert await fleet.api("incidents") == [] and fleet.hook.posts == []
    # every instance shows the fleet page; the decider alone exports the fleet's status
    assert "down from kyiv" in await fleet.text(fleet.daemons[0], "/fleet")
    (decider,) = fleet.decider()
    others = [d for d in fleet.daemons if d is not decider]
    assert 'outwatch_fleet_vantages_down{service="bank"} 1.0' in await fleet.text(
        decider, "/metrics"
    )
    other = await fleet.text(others[0], "/metrics")
    assert "outwatch_fleet_decider{" in other and "outwatch_fleet_vantages_down" not in other

    # down from two of three: one fleet incident and one notification
    await fleet.targets["lviv"]["bank"].stop()

    async def paged() -> bool:
        return len(fleet.hook.posts) >= 2

    await wait_for(paged, 15, "no notification")
    incidents = await fleet.api("incidents")
    assert [(i["service"], i["status"]) for i in incidents] == [("bank", "open")]
    # every instance's own API shows the one fleet incident, and the fleet's view of bank
    for d in (fleet.daemons[1], fleet.daemons[4]):
        body = json.loads(await fleet.text(d, "/api/v1/incidents?status=open"))
        assert [i["service"] for i in body["incidents"]] == ["bank"]
        body = json.loads(await fleet.text(d, "/api/v1/services"))
        bank = next(s for s in body["services"] if s["name"] == "bank")
        assert bank["fleet"]["status"] == "down" and bank["fleet"]["down"] == ["kyiv", "lviv"]
    # one notification per receiver
    assert fleet.hook.alerts() == [("firing", "bank", "kyiv,lviv")]
    assert fleet.hook.alerts("oncall") == [("firing", "bank", "kyiv,lviv")]

    # back up: one resolved notification, still one incident
    await fleet.targets["kyiv"]["bank"].start()
    await fleet.targets["lviv"]["bank"].start()

    async def resolved() -> bool:
        return len(fleet.hook.posts) >= 4

    await wait_for(resolved, 15, "no resolved notification")
    assert [a[0] for a in fleet.hook.alerts()] == ["firing", "resolved"]

    async def incident_resolved() -> bool:  # after the quiet period
        return [i["status"] for i in await fleet.api("incidents")] == ["resolved"]

    await wait_for(incident_resolved, 15, "the incident never resolved")
    assert len(fleet.hook.alerts()) == 2 and len(fleet.hook.alerts("oncall")) == 2
    assert len(fleet.hook.posts) == 4


async def test_an_offline_vantage_opens_nothing(fleet: Fleet) -> None:
    async def ready() -> bool:
        return len(fleet.decider()) == 1 and (await fleet.status("gov"))["status"] == "up"

    await wait_for(ready, 20, "the fleet never saw gov up")
    # odesa loses its own network: its canary and its view of gov fail together
    await fleet.canaries["odesa"].stop()
    await fleet.targets["odesa"]["gov"].stop()

    async def absent() -> bool:
        return (await fleet.status("gov"))["vantages"].get("absent") == ["odesa"]

    await wait_for(absent, 15, "odesa never absent")
    st = await fleet.status("gov")
    assert st["status"] == "up" and st["vantages"]["down"] == []
    assert await fleet.api("incidents") == []

    async def told() -> bool:  # the one page is the fleet's vantage_offline, naming odesa
        return len(fleet.hook.posts) >= 2

    await wait_for(told, 15, "no vantage_offline notification")
    assert fleet.hook.alerts() == fleet.hook.alerts("oncall") == [("firing", "vantage_offline", "")]
    (alert,) = fleet.hook.posts[0]["alerts"]
    assert alert["labels"]["vantage"] == "odesa"
    assert alert["annotations"]["instances"] == "odesa-0,odesa-1"


async def test_the_same_notice_at_two_instances_is_recorded_once(fleet: Fleet, pg_dsn: str) -> None:
    import psycopg

    from monitor.core.base import Message

    async def one() -> bool:
        return len(fleet.decider()) == 1

    await wait_for(one, 15, "no decider")
    msg = Message(
        "bank_official",
        "1001",
        fleet.daemons[0].clock.now(),
        "DDoS-атака на bank, сервіс недоступний",
    )
    two = [d.fleet for d in (fleet.daemons[0], fleet.daemons[3]) if d.fleet is not None]
    before = [f.published for f in two]
    # two vantages watch the same channel and hear the same notice
    await fleet.daemons[0].ingest(msg)
    await fleet.daemons[3].ingest(msg)

    def recorded() -> list[tuple[object, ...]]:
        with psycopg.connect(pg_dsn) as conn:
            return list(
                conn.execute("SELECT source, id, recorded_by FROM announcements").fetchall()
            )

    async def published() -> bool:  # a whole round written by each after the notice
        return all(f.published >= b + 2 for f, b in zip(two, before, strict=True))

    await wait_for(published, 10, "the notice never reached the database")
    rows = recorded()
    assert len(rows) == 1 and rows[0][:2] == ("bank_official", "1001")
