"""The ingest API on a real aiohttp server: tokens, bodies, sizes, rate limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import Ingest
from monitor.core.base import FakeClock, Message
from monitor.sources.base import SourceHealth
from monitor.sources.ingest import MAX_BODY, RateLimiter, ingest_routes, parse_body
from tests.conftest import free_port

TOKEN = "s3cret-token"
GOOD = {
    "source": "cert-ua",
    "id": "42",
    "text": "Масована DDoS-атака на ПриватБанк",
    "published_at": "2022-02-15T16:10:00+02:00",
    "url": "https://cert.gov.ua/article/42",
}


class Server:
    def __init__(self, base: str, received: list[Message], health: SourceHealth, clock: FakeClock):
        self.base = base
        self.received = received
        self.health = health
        self.clock = clock


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    received: list[Message] = []
    health = SourceHealth("ingest", "ingest")
    clock = FakeClock()

    async def sink(message: Message) -> None:
        if message.id == "boom":
            raise RuntimeError("disk full")
        received.append(message)

    cfg = Ingest.model_validate({"tokens": [TOKEN, "other-token"], "rate_limit_per_minute": 5})
    app = web.Application()
    app.add_routes(ingest_routes(cfg, sink, health, clock))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Server(f"http://127.0.0.1:{port}/api/v1/announcements", received, health, clock)
    await runner.cleanup()


async def post(
    server: Server, body: Any, token: str | None = TOKEN, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.base, data=data, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_accepts_a_good_body(server: Server) -> None:
    status, body = await post(server, GOOD)
    assert (status, body) == (202, {"status": "accepted", "source": "ingest:cert-ua", "id": "42"})
    [message] = server.received
    assert message.published_at == datetime(2022, 2, 15, 14, 10, tzinfo=UTC)
    assert message.url == GOOD["url"]
    assert server.health.last_message_at is not None


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
async def test_rejects_missing_or_wrong_token(server: Server, token: str | None) -> None:
    status, body = await post(server, GOOD, token=token)
    assert status == 401
    assert body["error"] == "missing or wrong bearer token"
    assert server.received == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"published_at": "yesterday"}, "published_at: Input should be a valid datetime"),
        ({"published_at": "2022-02-15T16:10:00"}, "published_at: Input should have timezone info"),
        (
            {"published_at": "9999-12-31T23:59:59+14:00"},
            "published_at: 9999-12-31T23:59:59+14:00 is",
        ),
        (
            {"published_at": "0001-01-01T00:00:00+14:00"},
            "published_at: 0001-01-01T00:00:00+14:00 is",
        ),
        ({"published_at": "0001-01-01T00:00:00Z"}, "published_at: 0001-01-01T00:00:00+00:00 is"),
        ({"published_at": "2022-02-17T00:00:00Z"}, "published_at: 2022-02-17T00:00:00+00:00 is"),
        ({"published_at": 10**17}, "published_at: "),
        ({"source": "../etc"}, "source: String should match pattern"),
        ({"url": "javascript:alert(1)"}, "url: String should match pattern"),
        ({"id": None}, "id: must be a string or an integer"),
        ({"id": "   "}, "id: must be 1 to 200 characters"),
        ({"text": 5}, "text: Input should be a valid string"),
        ({"kind": "attack"}, "kind: unknown field"),
        ({"source": None, "text": None}, "source: Input should be a valid string (and 1 more)"),
    ],
)
async def test_bad_bodies_name_the_field(
    server: Server, change: dict[str, Any], error: str
) -> None:
    status, body = await post(server, {**GOOD, **change})
    assert status == 400
    assert body["error"].startswith(error)
    assert "\n" not in body["error"]


async def test_missing_field_and_non_json(server: Server) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "text"}
    assert await post(server, missing) == (400, {"status": "error", "error": "text: required"})
    status, body = await post(server, None, raw=b"{nope")
    assert status == 400 and body["error"].startswith("body is not valid JSON")
    status, body = await post(server, [1, 2])
    assert status == 400 and body["error"].startswith("body must be a JSON object")


async def test_deeply_nested_body_is_named_as_such(server: Server) -> None:
    status, body = await post(server, None, raw=b"[" * 100_000 + b"]" * 100_000)
    assert (status, body["error"]) == (400, "body is not valid JSON: nested too deeply")


async def test_huge_body_is_413(server: Server) -> None:
    status, body = await post(server, {**GOOD, "text": "x" * (MAX_BODY + 1)})
    assert status == 413
    assert body["error"] == "body larger than 256 KB"


async def test_sink_failure_is_503_and_counted(server: Server) -> None:
    status, _ = await post(server, {**GOOD, "id": "boom"})
    assert status == 503
    assert server.health.errors == 1


async def test_rate_limit_per_token(server: Server) -> None:
    statuses = [(await post(server, {**GOOD, "id": str(i)}))[0] for i in range(6)]
    assert statuses == [202] * 5 + [429]
    assert (await post(server, GOOD, token="other-token"))[0] == 202  # its own bucket
    server.clock.mono += 12  # one request's worth of refill at 5 per minute
    assert (await post(server, GOOD))[0] == 202
    assert (await post(server, GOOD))[0] == 429


async def test_hostile_text_is_accepted_cleanly(server: Server) -> None:
    text = "\x00\x1b[31m<script>alert(1)</script>\u202e **b** [x](javascript:1)"
    status, _ = await post(server, {**GOOD, "text": text})
    assert status == 202
    assert server.received[0].text == "[31m<script>alert(1)</script>\u202e **b** [x](javascript:1)"


async def test_no_tokens_configured_is_403() -> None:
    app = web.Application()
    app.add_routes(ingest_routes(Ingest(), _noop, SourceHealth("ingest", "ingest")))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"http://127.0.0.1:{port}/api/v1/announcements", json=GOOD) as r,
        ):
            assert r.status == 403
    finally:
        await runner.cleanup()


async def _noop(message: Message) -> None:
    return None


def test_rate_limiter_refills_continuously() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock)
    assert all(limiter.allow(0) for _ in range(60))
    assert not limiter.allow(0)
    clock.mono += 1.0
    assert limiter.allow(0)
    assert not limiter.allow(0)


VALUES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
BODY = st.dictionaries(
    st.sampled_from(["source", "id", "text", "published_at", "url", "extra"]) | st.text(max_size=5),
    VALUES | st.lists(VALUES, max_size=3) | st.datetimes().map(lambda d: d.isoformat()),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(body=BODY | VALUES, raw=st.none() | st.binary(max_size=64))
def test_any_body_is_a_message_or_a_one_line_error(body: Any, raw: bytes | None) -> None:
    data = raw if raw is not None else json.dumps(body).encode()
    try:
        message = parse_body(data, datetime(2022, 2, 15, tzinfo=UTC))
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert message.source.startswith("ingest:")
    assert message.published_at.tzinfo is UTC
    assert message.published_at + timedelta(days=36500) > message.published_at
