"""Webhook receiver: the Alertmanager webhook payload (version 4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from alerts.base import Notification, ReceiverContext, ReceiverKind, ReceiverSpec


class WebhookReceiver(ReceiverSpec):
    """POST the Alertmanager webhook JSON to `url`, optionally HMAC-signed."""

    kind: Literal["webhook"] = "webhook"
    url: SecretStr
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)


async def send(spec: WebhookReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    raise NotImplementedError


KIND = ReceiverKind("webhook", WebhookReceiver, send)
