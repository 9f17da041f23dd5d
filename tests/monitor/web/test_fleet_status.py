"""Every instance of a fleet serves the fleet's view: three vantages on one PostgreSQL, loopback
targets; a non-decider's status page, API and `outwatch` commands show the fleet's status with
the vantages that see what."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.core.base import Message
from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for
from tests.monitor.runtime.fleet_helpers import SERVICES, VANTAGES, Hook, config_text, start_daemon


class Trio:
    """One instance per vantage (kyiv, lviv, odesa), each with its own targets and canary."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.targets = {v: {s: Target(free_port()) for s in SERVICES} for v in VANTAGES}
        self.canaries = {v: Target(free_port()) for v in VANTAGES}
        self.hook = Hook()
        self.daemons: dict[str, Daemon] = {}

    def all_targets(self) -> list[Target]:
        return [*self.canaries.values(), *(t for v in self.targets.values() for t in v.values())]

    def reader(self) -> tuple[str, Daemon]:
        """A vantage whose instance is not the decider."""
        return next((v, d) for v, d in self.daemons.items() if not _decides(d))

    async def get(self, d: Daemon, path: str) -> str:
        return await _get(d, path)

    async def api(self, d: Daemon, what: str) -> Any:
        return json.loads(await _get(d, f"/api/v1/{what}"))

    async def fleet_of(self, d: Daemon, service: str) -> dict[str, Any]:
        rows = (await self.api(d, "services"))["services"]
        return next(r for r in rows if r["name"] == service)["fleet"] or {}


async def _get(d: Daemon, path: str) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{d.listen_port}{path}") as r,
    ):
        assert r.status == 200, (path, r.status)
        return await r.text()


def _decides(d: Daemon) -> bool:
    return d.fleet is not None and d.fleet.is_decider


@pytest.fixture
async def trio(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Trio]:
    monkeypatch.chdir(tmp_path)
    t = Trio(tmp_path)
    for target in t.all_targets():
        await target.start()
    await t.hook.start()
    for v in VANTAGES:
        text = config_text(v, 0, 1, pg_dsn, t.hook, t.targets[v], t.canaries[v])
        t.daemons[v] = await start_daemon(tmp_path, text, v)
    yield t
    for d in t.daemons.values():
        await d.stop(grace=1.0)
    await t.hook.stop()
    for target in t.all_targets():
        await target.stop()


async def _outwatch(tmp: Path, *args: str) -> tuple[int, str, str]:
    """The `outwatch` command in its own process (it runs its own event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        *args,
        cwd=tmp,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_a_non_decider_shows_the_fleet_status_with_the_vantages(trio: Trio) -> None:
    async def settled() -> bool:
        deciders = [d for d in trio.daemons.values() if _decides(d)]
        if len(deciders) != 1:
            return False
        _, d = trio.reader()
        statuses = [(await trio.fleet_of(d, s)).get("status") for s in SERVICES]
        return statuses == ["up"] * len(SERVICES)

    await wait_for(settled, 25, "no decider, or the fleet never saw every service up")
    vantage, reader = trio.reader()
    other = next(v for v in VANTAGES if v != vantage)  # a vantage the reader is not

    # bank down from one vantage only, not the reader's: the fleet says degraded, naming it
    await trio.targets[other]["bank"].stop()

    async def degraded() -> bool:
        return (await trio.fleet_of(reader, "bank")).get("down") == [other]

    await wait_for(degraded, 15, f"bank never shown down from {other}")
    page = await trio.get(reader, "/")
    bank = page.split('id="svc-bank"')[1].split('id="svc-')[0]
    assert f"<strong>Degraded</strong> — down from <bdi>{other}</bdi>" in bank
    assert f'class="v v-down" title="{other}: down"' in bank and "badge s-degraded" in bank
    assert f"from <bdi>{vantage}</bdi> (this instance): up" in bank

    # bank and gov down from two vantages: one fleet incident each and a campaign, which the
    # non-decider's API, status page and commands all show
    third = next(v for v in VANTAGES if v not in (vantage, other))
    for v, s in ((third, "bank"), (other, "gov"), (third, "gov")):
        await trio.targets[v][s].stop()

    async def campaign() -> bool:
        found = (await trio.api(reader, "campaigns"))["campaigns"]
        return any(c["status"] == "open" for c in found)

    await wait_for(campaign, 20, "no fleet campaign on the non-decider's API")
    (wave,) = [
        c for c in (await trio.api(reader, "campaigns"))["campaigns"] if c["status"] == "open"
    ]
    incidents = (await trio.api(reader, "incidents?status=open"))["incidents"]
    assert sorted(i["service"] for i in incidents) == ["bank", "gov"]
    assert sorted(wave["incidents"]) == sorted(i["id"] for i in incidents)
    fleet_bank = await trio.fleet_of(reader, "bank")
    assert fleet_bank["status"] == "down" and fleet_bank["down"] == sorted([other, third])
    page = await trio.get(reader, "/")
    assert f'Campaign <a class="id" href="/campaigns/{wave["id"]}"' in page
    assert "<strong>Down</strong> — down from <bdi>" in page

    # the reader's config has storage.url: its commands list the fleet's incident and status
    rc, out, err = await _outwatch(
        trio.tmp, "incidents", "-c", f"{vantage}.yaml", "--status", "open"
    )
    assert rc == 0, err
    assert out.startswith("fleet state from 127.0.0.1:") and "· 2 incidents" in out
    bank_id = next(i["id"] for i in incidents if i["service"] == "bank")
    assert f"{bank_id}  bank  open  observed" in out
    rc, out, err = await _outwatch(trio.tmp, "status", "-c", f"{vantage}.yaml")
    assert rc == 0, err
    assert (
        f"bank     down      down from {', '.join(sorted([other, third]))}; up from {vantage}"
        in out
    )
    # the page each incident and campaign links to is the fleet's, not a local namesake
    gov_id = next(i["id"] for i in incidents if i["service"] == "gov")
    for inc_id, service in ((bank_id, "bank"), (gov_id, "gov")):
        inc_page = await trio.get(reader, f"/incidents/{inc_id}")
        assert f"{inc_id} · {service}" in inc_page, inc_page[:400]
    wave_page = await trio.get(reader, f"/campaigns/{wave['id']}")
    assert bank_id in wave_page and gov_id in wave_page


async def test_every_instance_shows_the_notices_another_recorded(trio: Trio) -> None:
    async def one_decider() -> bool:
        return sum(_decides(d) for d in trio.daemons.values()) == 1

    await wait_for(one_decider, 15, "no decider")
    recorder = trio.daemons["kyiv"]  # the only instance that hears the channel
    reader = trio.daemons["lviv"]  # no sources: it has no notices of its own
    text = "DDoS-атака на bank, сервіс недоступний"
    url = "https://t.me/bank_official/1001"
    await recorder.ingest(Message("bank_official", "1001", recorder.clock.now(), text, url))

    async def announced() -> bool:
        found = (await trio.api(reader, "incidents"))["incidents"]
        return any(i["service"] == "bank" and i.get("announced") for i in found)

    await wait_for(announced, 15, "no announced fleet incident on the reader's API")
    assert await reader.announcements.list() == []  # nothing recorded locally
    (inc,) = [i for i in (await trio.api(reader, "incidents"))["incidents"] if i["announced"]]
    # the API: the incident's notices and the announcements listing are the fleet's
    notices = (await trio.api(reader, f"incidents/{inc['id']}"))["notices"]
    assert [(n["key"], n["text"], n["url"], n["kind"]) for n in notices] == [
        ("bank_official/1001", text, url, "attack")
    ]
    assert [c["service"] for c in notices[0]["claims"]] == ["bank"]
    (listed,) = (await trio.api(reader, "announcements?service=bank"))["announcements"]
    assert listed["key"] == "bank_official/1001" and listed["services"] == ["bank"]
    assert (await trio.api(reader, "announcements?service=gov"))["announcements"] == []
    # the status page (under the incident and in the latest announcements) and the incident page
    page = await trio.get(reader, "/")
    latest = page.split('id="h-ann"')[1]
    assert text in latest and text in page.split('id="h-ann"')[0]
    assert text in await trio.get(reader, f"/incidents/{inc['id']}")


async def test_an_instance_cut_off_says_the_fleet_status_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target, canary, hook = Target(free_port()), Target(free_port()), Hook()
    for t in (target, canary):
        await t.start()
    nowhere = f"postgresql://outwatch@127.0.0.1:{free_port()}/outwatch"  # nothing listens
    targets = dict.fromkeys(SERVICES, target)
    d = await start_daemon(tmp_path, config_text("kyiv", 0, 1, nowhere, hook, targets, canary), "k")
    try:

        async def probed() -> bool:
            rows = json.loads(await _get(d, "/api/v1/services"))["services"]
            return all(r["status"] == "up" and r["fleet"] is None for r in rows)

        await wait_for(probed, 15, "the cut-off instance never probed its services up")
        page = await _get(d, "/")
        assert "Fleet status unavailable" in page and "statuses below are <bdi>kyiv</bdi>" in page
        assert page.count("No fleet status yet") == len(SERVICES)
        assert page.count("badge s-up") >= len(SERVICES)  # its own view, not unknown
    finally:
        await d.stop(grace=1.0)
        for t in (target, canary):
            await t.stop()
