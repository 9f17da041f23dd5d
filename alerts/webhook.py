"""Webhook receiver: the Alertmanager webhook payload (version 4), optionally HMAC-signed."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import Field

from alerts.base import (
    Alert,
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
    Secret,
    SecretHttpURL,
    check_status,
)

ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager puts in endsAt while an alert fires
SIGNATURE_HEADER = "X-Outwatch-Signature"
ID_HEADER = "X-Outwatch-Notification-Id"
# the notification's id again, under the name receivers that deduplicate look for (the IETF
# httpapi Idempotency-Key draft, Stripe and others): a re-send of the same notification, as after
# a fleet decider's failover, carries the same key
IDEMPOTENCY_HEADER = "Idempotency-Key"


class WebhookReceiver(ReceiverSpec):
    """POST the Alertmanager webhook JSON to `url`, optionally HMAC-signed with `secret`."""

    kind: Literal["webhook"] = "webhook"
    url: SecretHttpURL
    secret: Secret | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    max_alerts: int = Field(default=0, ge=0)  # 0: all


def _time(a: Alert, which: str) -> str:
    when = a.starts_at if which == "start" else a.ends_at
    return when.isoformat().replace("+00:00", "Z") if when else ZERO_TIME


def alert_json(a: Alert) -> dict[str, Any]:
    """One alert as Alertmanager's webhook shows it."""
    return {
        "status": a.status,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": _time(a, "start"),
        "endsAt": _time(a, "end"),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def payload(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The Alertmanager webhook body (version 4)."""
    alerts = list(n.alerts)
    shown = alerts[:max_alerts] if max_alerts else alerts
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": len(alerts) - len(shown),
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common([dict(a.labels) for a in alerts]),
        "commonAnnotations": _common([dict(a.annotations) for a in alerts]),
        "externalURL": n.external_url,
        "alerts": [alert_json(a) for a in shown],
        # not in Alertmanager's payload (receivers ignore unknown keys): the same as the
        # Idempotency-Key header, for receivers that only see the body
        "idempotencyKey": n.id,
    }


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def send(spec: WebhookReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    body = json.dumps(payload(notification, spec.max_alerts), ensure_ascii=False).encode()
    ids = {ID_HEADER: notification.id, IDEMPOTENCY_HEADER: notification.id}
    headers = {**spec.headers, "Content-Type": "application/json", **ids}
    if spec.secret is not None:
        headers[SIGNATURE_HEADER] = sign(spec.secret.get_secret_value().encode(), body)
    async with ctx.session.post(spec.url.get_secret_value(), data=body, headers=headers) as resp:
        text = await resp.text(errors="replace")
        check_status(resp.status, text, resp.headers.get("Retry-After"))


KIND = ReceiverKind("webhook", WebhookReceiver, send)
