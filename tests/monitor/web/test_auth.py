"""The web auth middleware on a real server: credentials that must never pass."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from monitor.config import Web, WebAuth
from monitor.web.server import auth_middleware
from tests.conftest import free_port


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    # built past validation, which refuses empty tokens: the middleware must refuse them too
    auth = WebAuth.model_construct(tokens=[SecretStr(""), SecretStr("  ")], basic={})
    cfg = Web.model_construct(auth=auth, listen="127.0.0.1:0", tls=None, external_url=None)
    app = web.Application(middlewares=[auth_middleware(cfg)])
    app.router.add_route("*", "/api/v1/services", ok)
    app.router.add_route("*", "/-/reload", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer   ", "bearer \t", "Basic", "Basic "]
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/services"), ("POST", "/-/reload")])
async def test_an_empty_credential_never_passes(
    base: str, header: str, method: str, path: str
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, base + path, headers={"Authorization": header}) as r,
    ):
        assert r.status == 401
