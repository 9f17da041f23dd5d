"""Slack receiver: an incoming webhook with readable blocks (mrkdwn-escaped, cut to limits)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from alerts.base import (
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
    SecretHttpURL,
    check_status,
)
from alerts.text import alert_line, cut, mrkdwn, title

BLOCK_TEXT_LIMIT = 3000  # Slack's limit for a section's text
FALLBACK_LIMIT = 3000
MAX_ALERT_BLOCKS = 20  # Slack allows 50 blocks; keep the message readable


class SlackReceiver(ReceiverSpec):
    """POST to a Slack incoming-webhook `url`."""

    kind: Literal["slack"] = "slack"
    url: SecretHttpURL
    channel: str | None = None
    username: str | None = None
    max_alerts: int = Field(default=MAX_ALERT_BLOCKS, ge=1, le=45)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def payload(n: Notification, max_alerts: int = MAX_ALERT_BLOCKS) -> dict[str, Any]:
    """Slack message: a bold title, one section per alert, a context line with the link."""
    icon = ":red_circle:" if n.status == "firing" else ":large_green_circle:"
    head = cut(f"{icon} *{mrkdwn(title(n))}*", BLOCK_TEXT_LIMIT)
    blocks = [_section(head)]
    for a in n.alerts[:max_alerts]:
        blocks.append(_section(cut(mrkdwn(alert_line(a)), BLOCK_TEXT_LIMIT)))
    rest = len(n.alerts) - max_alerts
    if rest > 0:
        blocks.append(_section(f"… and {rest} more"))
    if n.external_url:
        link = {"type": "mrkdwn", "text": cut(mrkdwn(n.external_url), BLOCK_TEXT_LIMIT)}
        blocks.append({"type": "context", "elements": [link]})
    return {"text": cut(mrkdwn(title(n)), FALLBACK_LIMIT), "blocks": blocks}


async def send(spec: SlackReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    body = payload(notification, spec.max_alerts)
    if spec.channel:
        body["channel"] = spec.channel
    if spec.username:
        body["username"] = spec.username
    async with ctx.session.post(spec.url.get_secret_value(), json=body) as resp:
        text = await resp.text(errors="replace")
        check_status(resp.status, text, resp.headers.get("Retry-After"))


KIND = ReceiverKind("slack", SlackReceiver, send)
