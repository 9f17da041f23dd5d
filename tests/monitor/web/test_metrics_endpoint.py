"""/metrics on a real server: the renderer's chunks written as one body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.config import Web
from monitor.web import server
from tests.conftest import free_port

# more chunks than one write takes, a few empty
CHUNKS = [f'm{{i="{i}"}} {i}.0\n'.encode() if i % 7 else b"" for i in range(3 * server.PIECE + 5)]


class View:
    """What /metrics asks of the daemon."""

    async def metrics_text(self) -> list[bytes]:
        return CHUNKS


@pytest.fixture
async def base() -> AsyncIterator[tuple[str, View]]:
    cfg = Web.model_validate({"listen": "127.0.0.1:0"})
    view = View()
    runner = web.AppRunner(server.make_app(cfg, view))  # type: ignore[arg-type]
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", view
    await runner.cleanup()


async def test_the_chunks_are_one_body_with_its_length(base: tuple[str, Any]) -> None:
    url, _ = base
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/metrics") as r:
            body = await r.read()
            assert r.headers["Content-Type"] == CONTENT_TYPE_LATEST
            assert int(r.headers["Content-Length"]) == len(body)
        async with s.head(url + "/metrics") as r:
            assert int(r.headers["Content-Length"]) == len(body)
            assert await r.read() == b""
    assert body == b"".join(CHUNKS)
