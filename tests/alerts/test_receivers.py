"""Each receiver against a real local server: payloads, escaping, limits, signatures."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from email.message import Message
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from alerts.base import Alert, DeliveryError, Notification, ReceiverContext
from alerts.config import AlertsConfig
from alerts.delivery import attempt
from alerts.email import build, message_id
from tests.alerts.conftest import T0, Recorder
from tests.conftest import free_port

HOSTILE = '<b>DDoS</b> & "resumed" <script>alert(1)</script> ' + "x" * 6000


def notification(n_alerts: int = 2, resolved: bool = False) -> Notification:
    alerts = tuple(
        Alert(
            labels={"alertname": "service_down", "service": f"bank{i}", "vantage": "kyiv-1"},
            annotations={"summary": HOSTILE},
            starts_at=T0,
            ends_at=T0 + timedelta(minutes=5) if resolved else None,
        )
        for i in range(n_alerts)
    )
    return Notification("r", '{}:{service="bank"}', {"service": "bank"}, alerts, "http://ow/", "n1")


def receiver(**spec: Any) -> Any:
    return AlertsConfig.model_validate(
        {"receivers": [{"name": "r", **spec}], "route": {"receiver": "r"}}
    ).receiver("r")


@pytest.fixture
async def ctx() -> AsyncIterator[ReceiverContext]:
    async with aiohttp.ClientSession() as session:
        yield ReceiverContext(session, vantage="kyiv-1", external_url="http://ow/")


async def test_webhook_signs_the_body(recorder: Recorder, ctx: ReceiverContext) -> None:
    spec = receiver(
        kind="webhook", url=recorder.url + "/hook", secret="s3cret", headers={"X-Team": "soc"}
    )
    await attempt(spec, notification(), ctx)
    [hit] = recorder.hits
    expected = hmac.new(b"s3cret", hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["X-Outwatch-Signature"] == f"sha256={expected}"
    assert hit.headers["X-Team"] == "soc"
    # the notification's id as its idempotency key, in a header and in the body
    assert hit.headers["Idempotency-Key"] == hit.headers["X-Outwatch-Notification-Id"] == "n1"
    body = hit.json()
    assert body["idempotencyKey"] == "n1"
    assert body["groupKey"] == '{}:{service="bank"}' and body["truncatedAlerts"] == 0
    assert body["alerts"][0]["annotations"]["summary"] == HOSTILE  # JSON carries it verbatim


async def test_webhook_truncates_alerts(recorder: Recorder, ctx: ReceiverContext) -> None:
    await attempt(receiver(kind="webhook", url=recorder.url, max_alerts=1), notification(3), ctx)
    body = recorder.hits[0].json()
    assert (len(body["alerts"]), body["truncatedAlerts"]) == (1, 2)


async def test_slack_blocks_are_escaped_and_cut(recorder: Recorder, ctx: ReceiverContext) -> None:
    await attempt(receiver(kind="slack", url=recorder.url + "/services/T/B/X"), notification(), ctx)
    body = recorder.hits[0].json()
    texts = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert texts[0].startswith(":red_circle: *[FIRING:2] service_down service=bank*")
    assert all(len(t) <= 3000 for t in texts)
    assert '&lt;b&gt;DDoS&lt;/b&gt; &amp; "resumed" &lt;script&gt;' in texts[1]
    assert "<" not in texts[1] and texts[1].endswith("…")
    assert body["blocks"][-1]["type"] == "context"


async def test_telegram_html_message(recorder: Recorder, ctx: ReceiverContext) -> None:
    recorder.default = (200, {}, '{"ok": true, "result": {}}')
    spec = receiver(kind="telegram", bot_token="123:ABC", chat_id=-100500, api_url=recorder.url)
    await attempt(spec, notification(12), ctx)
    [hit] = recorder.hits
    assert hit.path == "/bot123:ABC/sendMessage"
    body = hit.json()
    assert (body["chat_id"], body["parse_mode"]) == (-100500, "HTML")
    text = body["text"]
    assert len(text) <= 4096
    assert text.startswith("<b>[FIRING:12] service_down service=bank</b>")
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "more" in text  # twelve long alerts do not all fit


async def test_telegram_flood_wait_is_retryable(recorder: Recorder, ctx: ReceiverContext) -> None:
    recorder.default = (429, {}, '{"ok":false,"error_code":429,"parameters":{"retry_after":7}}')
    spec = receiver(kind="telegram", bot_token="123:ABC", chat_id=1, api_url=recorder.url)
    with pytest.raises(DeliveryError) as err:
        await attempt(spec, notification(), ctx)
    assert (err.value.retryable, err.value.retry_after) == (True, 7.0)
    assert "123:ABC" not in err.value.reason


async def test_pagerduty_trigger_and_resolve(recorder: Recorder, ctx: ReceiverContext) -> None:
    recorder.default = (202, {}, '{"status":"success"}')
    spec = receiver(kind="pagerduty", routing_key="R0UT1NG", api_url=recorder.url + "/v2/enqueue")
    await attempt(spec, notification(), ctx)
    await attempt(spec, notification(resolved=True), ctx)
    trigger, resolve = (h.json() for h in recorder.hits)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["routing_key"] == "R0UT1NG"
    assert trigger["dedup_key"] == resolve["dedup_key"] and len(trigger["dedup_key"]) == 64
    assert len(trigger["payload"]["summary"]) <= 1024
    assert trigger["payload"]["source"] == "kyiv-1"
    assert trigger["payload"]["severity"] == "critical"
    assert "payload" not in resolve


async def test_pagerduty_400_is_final(recorder: Recorder, ctx: ReceiverContext) -> None:
    recorder.default = (400, {}, '{"status":"invalid event"}')
    spec = receiver(kind="pagerduty", routing_key="R", api_url=recorder.url)
    with pytest.raises(DeliveryError) as err:
        await attempt(spec, notification(), ctx)
    assert not err.value.retryable and err.value.category == "http_4xx"


async def test_timeout_is_retryable(recorder: Recorder, ctx: ReceiverContext) -> None:
    recorder.delay = 1.0
    with pytest.raises(DeliveryError) as err:
        await attempt(
            receiver(kind="webhook", url=recorder.url, timeout="200ms"), notification(), ctx
        )
    assert (err.value.retryable, err.value.category) == (True, "timeout")
    assert err.value.reason == "timed out after 0.2s"


class Inbox:
    """aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


async def test_email_has_both_parts_escaped(ctx: ReceiverContext) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        spec = receiver(
            kind="email",
            host="127.0.0.1",
            port=port,
            **{"from": "outwatch@soc.example"},
            to=["oncall@soc.example", "lead@soc.example"],
        )
        await attempt(spec, notification(), ctx)
    finally:
        await asyncio.to_thread(controller.stop)
    [(sender, rcpts, msg)] = inbox.messages
    assert sender == "outwatch@soc.example"
    assert rcpts == ["oncall@soc.example", "lead@soc.example"]
    assert msg["Subject"] == "[outwatch] [FIRING:2] service_down service=bank"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert HOSTILE[:60] in parts["text/plain"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in parts["text/html"]
    assert "<script>" not in parts["text/html"]
    # a re-send of the notification is the same message; the group's mails make one thread
    again = build(spec, notification())
    assert msg["Message-ID"] == again["Message-ID"] == message_id(notification())
    other = build(spec, replace(notification(), id="n2"))
    assert other["Message-ID"] != msg["Message-ID"]
    assert msg["References"] == msg["In-Reply-To"] == other["References"]


async def test_email_refused_connection_is_retryable(ctx: ReceiverContext) -> None:
    spec = receiver(kind="email", host="127.0.0.1", port=free_port(), **{"from": "a@b"}, to=["c@d"])
    with pytest.raises(DeliveryError) as err:
        await attempt(spec, notification(), ctx)
    assert err.value.retryable
