from __future__ import annotations

import asyncio

import aiohttp
import pytest

from monitor.demo.sites import SERVICES, SiteFarm, WebhookSink
from monitor.demo.timeline import Mode


async def get(session: aiohttp.ClientSession, url: str) -> str | int:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
            return resp.status
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientConnectorError:
        return "refused"


@pytest.mark.parametrize(
    ("mode", "seen"), [("up", 200), ("error", 503), ("timeout", "timeout"), ("refused", "refused")]
)
async def test_site_answers_as_its_mode_says(mode: Mode, seen: str | int) -> None:
    modes: dict[str, Mode] = {}
    farm = SiteFarm(lambda site: modes.get(site, "up"), hang=2.0)
    await farm.start()
    try:
        url = farm.urls()["mod"]
        async with aiohttp.ClientSession() as session:
            assert await get(session, url) == 200
            modes["mod"] = mode
            await farm.sync()
            assert await get(session, url) == seen
            assert await get(session, farm.urls()["diia"]) == 200
            modes["mod"] = "up"  # back on the same port after refusing
            await farm.sync()
            assert await get(session, url) == 200
    finally:
        await farm.stop()


async def test_every_service_has_a_site() -> None:
    farm = SiteFarm(lambda site: "up", hang=1.0)
    await farm.start()
    try:
        urls = farm.urls()
        assert set(urls) == {s.name for s in SERVICES}
        assert len(set(urls.values())) == len(urls)
    finally:
        await farm.stop()


async def test_webhook_records_json_bodies() -> None:
    sink = WebhookSink()
    await sink.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(sink.url, json={"status": "firing", "alerts": []}) as resp:
                assert resp.status == 200
            async with session.post(sink.url, data=b"{not json") as resp:
                assert resp.status == 400
        await asyncio.sleep(0)
        assert sink.received == [{"status": "firing", "alerts": []}]
    finally:
        await sink.stop()
