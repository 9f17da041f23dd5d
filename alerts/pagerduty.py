"""PagerDuty receiver: Events API v2, trigger and resolve under one dedup key per group."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import SecretStr

from alerts.base import (
    HttpURL,
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
    check_status,
)
from alerts.text import alert_line, cut, title

SUMMARY_LIMIT = 1024
Severity = Literal["critical", "error", "warning", "info"]


class PagerDutyReceiver(ReceiverSpec):
    """An Events API v2 integration (`routing_key`, or `routing_key_file`)."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretStr
    api_url: HttpURL = "https://events.pagerduty.com/v2/enqueue"
    severity: Severity = "critical"
    source: str = ""  # default: the vantage


def dedup_key(n: Notification) -> str:
    """Stable per group (PagerDuty allows 255 characters; a group key can be longer)."""
    return hashlib.sha256(n.group_key.encode()).hexdigest()


def _severity(n: Notification, default: Severity) -> str:
    # an alert's own severity label wins when PagerDuty knows the word
    labels = {a.labels.get("severity", "") for a in n.alerts}
    for word in ("critical", "error", "warning", "info"):
        if word in labels:
            return word
    return default


def event(n: Notification, spec: PagerDutyReceiver, vantage: str) -> dict[str, Any]:
    """The Events API v2 body."""
    body: dict[str, Any] = {
        "routing_key": spec.routing_key.get_secret_value(),
        "event_action": "trigger" if n.status == "firing" else "resolve",
        "dedup_key": dedup_key(n),
    }
    if n.status == "firing":
        body["payload"] = {
            "summary": cut(title(n), SUMMARY_LIMIT),
            "source": cut(spec.source or vantage or "outwatch", 255),
            "severity": _severity(n, spec.severity),
            "custom_details": {
                "alerts": [cut(alert_line(a), SUMMARY_LIMIT) for a in n.alerts[:50]],
                "firing": sum(1 for a in n.alerts if a.status == "firing"),
                "group_labels": dict(n.group_labels),
            },
        }
        body["client"] = "outwatch"
        if n.external_url:
            body["client_url"] = n.external_url
    return body


async def send(spec: PagerDutyReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    body = event(notification, spec, ctx.vantage)
    async with ctx.session.post(spec.api_url, json=body) as resp:
        text = await resp.text(errors="replace")
        check_status(resp.status, text, resp.headers.get("Retry-After"))


KIND = ReceiverKind("pagerduty", PagerDutyReceiver, send)
