"""Push to a real Alertmanager (Debian's package) and read the alerts back from its API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.alerts.conftest import DispatcherFactory, alert, until
from tests.conftest import free_port, require_binary

AM_CONFIG = """
route: {receiver: blackhole, group_wait: 1h}
receivers: [{name: blackhole}]
"""


def _binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        try:
            return require_binary(name)
        except pytest.skip.Exception:
            continue
    return require_binary("alertmanager")


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    binary = _binary()
    (tmp_path / "am.yml").write_text(AM_CONFIG)
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
                try:
                    async with s.get(f"{url}/-/ready") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            await proc.wait()


async def _alerts(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v2/alerts") as r:
        return list(await r.json())


async def test_push_then_resolve(alertmanager: str, make_dispatcher: DispatcherFactory) -> None:
    cfg = {
        "route": {"receiver": "am", "group_wait": "0.1s", "group_interval": "0.2s"},
        "receivers": [
            # the second URL is down: an HA pair with one peer gone still gets the alerts through
            {
                "name": "am",
                "kind": "alertmanager",
                "urls": [alertmanager, f"http://127.0.0.1:{free_port()}"],
                "resend_interval": "0.5s",
            }
        ],
    }
    d = await make_dispatcher(cfg)
    await d.update([alert(service="privatbank"), alert(service="mod")])
    seen: list[dict[str, Any]] = []

    async def poll() -> bool:
        seen[:] = await _alerts(alertmanager)
        return len(seen) == 2

    for _ in range(100):
        if await poll():
            break
        await asyncio.sleep(0.1)
    assert sorted(a["labels"]["service"] for a in seen) == ["mod", "privatbank"]
    assert all(a["status"]["state"] == "active" for a in seen)
    assert seen[0]["labels"]["vantage"] == "kyiv-1"
    # firing alerts are re-sent (resend_interval) though nothing changed
    sent = d.stats.sent["am"]
    await until(lambda: d.stats.sent["am"] >= sent + 2, within=5)

    await d.update([alert(service="mod")])
    for _ in range(100):
        seen[:] = await _alerts(alertmanager)  # resolved alerts drop out of the default listing
        if [a["labels"]["service"] for a in seen] == ["mod"]:
            break
        await asyncio.sleep(0.1)
    assert [a["labels"]["service"] for a in seen] == ["mod"]
