"""Telegram receiver: the Bot API's sendMessage, HTML-escaped and cut to 4096 characters."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import SecretStr

from alerts.base import (
    REASON_BODY_LIMIT,
    DeliveryError,
    HttpURL,
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
    check_status,
)
from alerts.text import alert_line, cut, html_text, title

MESSAGE_LIMIT = 4096
LINE_LIMIT = 600


class TelegramReceiver(ReceiverSpec):
    """A bot (`bot_token`, or `bot_token_file`) posting to `chat_id`."""

    kind: Literal["telegram"] = "telegram"
    bot_token: SecretStr
    chat_id: int | str
    message_thread_id: int | None = None
    api_url: HttpURL = "https://api.telegram.org"
    disable_notification: bool = False


def message(n: Notification) -> str:
    """HTML message: bold title, one line per alert, as many as fit in Telegram's limit."""
    parts = [f"<b>{html_text(cut(title(n), LINE_LIMIT))}</b>", ""]
    size = sum(len(p) + 1 for p in parts)
    shown = 0
    for a in n.alerts:
        line = "• " + html_text(cut(alert_line(a), LINE_LIMIT))
        # leave room for the "and N more" line; never cut inside an escape or tag
        if size + len(line) + 1 > MESSAGE_LIMIT - 40:
            break
        parts.append(line)
        size += len(line) + 1
        shown += 1
    if shown < len(n.alerts):
        parts.append(f"… and {len(n.alerts) - shown} more")
    if n.external_url and size + len(n.external_url) < MESSAGE_LIMIT - 60:
        parts += ["", html_text(n.external_url)]
    return "\n".join(parts)


def _retry_after(text: str) -> str | None:
    # Telegram says how long to wait in the body: {"parameters": {"retry_after": 5}}
    try:
        value = json.loads(text).get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        return None
    return str(int(value)) if isinstance(value, int | float) else None


async def send(spec: TelegramReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    body: dict[str, Any] = {
        "chat_id": spec.chat_id,
        "text": message(notification),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
        "disable_notification": spec.disable_notification,
    }
    if spec.message_thread_id is not None:
        body["message_thread_id"] = spec.message_thread_id
    url = f"{spec.api_url.rstrip('/')}/bot{spec.bot_token.get_secret_value()}/sendMessage"
    async with ctx.session.post(url, json=body) as resp:
        text = await resp.text(errors="replace")
        retry_after = resp.headers.get("Retry-After") or _retry_after(text)
        check_status(resp.status, text, retry_after)
        try:
            ok = json.loads(text).get("ok") is True
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise DeliveryError(
                f"Telegram did not accept it: {cut(text, REASON_BODY_LIMIT)}", retryable=False
            )


KIND = ReceiverKind("telegram", TelegramReceiver, send)
