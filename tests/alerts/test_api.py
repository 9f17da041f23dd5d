"""The silences and alerts API on a real aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from alerts.api import silence_routes
from tests.alerts.conftest import DispatcherFactory, Recorder, alert

FAR = "2099-01-01T00:00:00Z"


@pytest.fixture
async def api(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> AsyncIterator[tuple[str, Any]]:
    cfg = {
        "route": {"receiver": "hook", "group_wait": "0.1s"},
        "receivers": [{"name": "hook", "kind": "webhook", "url": recorder.url}],
        "silences": [{"match": {"service": "zsu"}, "comment": "from config"}],
    }
    d = await make_dispatcher(cfg)
    app = web.Application()
    app.add_routes(silence_routes(d))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", d
    await runner.cleanup()


async def test_create_list_delete(api: tuple[str, Any]) -> None:
    url, d = api
    body = {
        "matchers": [{"name": "service", "value": "mod|zsu", "isRegex": True, "isEqual": True}],
        "endsAt": FAR,
        "createdBy": "duty",
        "comment": "planned",
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/v1/silences", json=body) as r:
            assert r.status == 200
            sid = (await r.json())["silenceID"]
        await d.update([alert(service="mod"), alert(service="privatbank")])
        async with s.get(f"{url}/api/v1/silences") as r:
            listed = await r.json()
        assert [x["id"] for x in listed] == ["config:0", sid]
        assert listed[1]["status"]["state"] == "active" and listed[1]["createdBy"] == "duty"
        async with s.get(f"{url}/api/v1/alerts") as r:
            alerts = {a["labels"]["service"]: a for a in await r.json()}
        assert alerts["mod"]["status"] == {
            "state": "suppressed",
            "silencedBy": [sid],
            "inhibitedBy": [],
        }
        assert alerts["privatbank"]["status"]["state"] == "active"
        assert alerts["privatbank"]["receivers"] == ["hook"]
        async with s.delete(f"{url}/api/v1/silences/{sid}") as r:
            assert r.status == 200
        async with s.get(f"{url}/api/v1/silences") as r:
            assert (await r.json())[1]["status"]["state"] == "expired"
        async with s.delete(f"{url}/api/v1/silences/nope") as r:
            assert r.status == 404
    # stored: a new dispatcher on the same database sees it
    rows = await d._storage.run(lambda db: list(db.query("SELECT id FROM alert_silences")))
    assert rows == [{"id": sid}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "the body is not valid JSON"),
        ({"endsAt": FAR}, "matchers: required key is missing"),
        (
            {"matchers": [], "endsAt": FAR},
            "matchers: List should have at least 1 item after validation, not 0",
        ),
        (
            {"matchers": [{"name": "a", "value": "(", "isRegex": True}], "endsAt": FAR},
            "matchers.0: invalid regex '(': missing ), unterminated subpattern at position 0",
        ),
        (
            {"matchers": [{"name": "a", "value": "b"}], "endsAt": "2001-01-01T00:00:00Z"},
            "endsAt must be in the future and after startsAt",
        ),
        (
            {"matchers": [{"name": "a", "value": "b"}], "endsAt": "2099-01-01T00:00:00"},
            "endsAt: Input should have timezone info",
        ),
        (
            {"matchers": [{"name": "a", "value": ".*", "isRegex": True}], "endsAt": FAR},
            "matchers: at least one must not match an empty label set",
        ),
        (
            {"matchers": [{"name": "a", "value": "b"}], "endsAt": FAR, "color": 1},
            "color: unknown key",
        ),
    ],
)
async def test_bad_bodies_are_400(api: tuple[str, Any], body: Any, message: str) -> None:
    url, _ = api
    kw = {"data": body} if isinstance(body, str) else {"json": body}
    async with aiohttp.ClientSession() as s, s.post(f"{url}/api/v1/silences", **kw) as r:
        assert r.status == 400
        assert (await r.json()) == {"error": message}
