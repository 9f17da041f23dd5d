"""Email receiver: SMTP through aiosmtplib, a plain-text and an HTML part."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

import aiosmtplib
from pydantic import Field, SecretStr

from alerts.base import (
    REASON_BODY_LIMIT,
    DeliveryError,
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
)
from alerts.text import alert_line, cut, html_text, plain, title

SUBJECT_LIMIT = 200


class EmailReceiver(ReceiverSpec):
    """Mail `to` from `from` through `host:port` (STARTTLS or implicit TLS, optional login)."""

    kind: Literal["email"] = "email"
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[outwatch]"


def html_body(n: Notification) -> str:
    """The HTML part: every piece of text escaped."""
    items = "".join(f"<li>{html_text(cut(alert_line(a), 2000))}</li>" for a in n.alerts[:200])
    link = (
        f'<p><a href="{html_text(n.external_url)}">{html_text(n.external_url)}</a></p>'
        if n.external_url
        else ""
    )
    return f"<html><body><h3>{html_text(title(n))}</h3><ul>{items}</ul>{link}</body></html>"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def message_id(n: Notification) -> str:
    """Derived from the notification's id, so a re-send of it (a fleet decider's failover) is
    the same message to mail clients and archives, which drop the copy."""
    return f"<{_digest(n.id)}@outwatch>" if n.id else make_msgid(domain="outwatch")


def build(spec: EmailReceiver, n: Notification) -> EmailMessage:
    """The message, ready to send."""
    msg = EmailMessage()
    # one line, no header injection: the title comes partly from the internet
    subject = " ".join(f"{spec.subject_prefix} {title(n)}".split())
    msg["Subject"] = cut(subject, SUBJECT_LIMIT)
    msg["From"] = spec.sender
    msg["To"] = ", ".join(spec.to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(n)
    # every mail about one group answers one thread root that is no real message (as
    # Alertmanager's email threading does): mail clients thread a group's notifications
    root = f"<group-{_digest(n.group_key)}@outwatch>"
    msg["References"] = root
    msg["In-Reply-To"] = root
    msg.set_content(plain(n, limit=200))
    msg.add_alternative(html_body(n), subtype="html")
    return msg


async def send(spec: EmailReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Deliver one notification."""
    try:
        await aiosmtplib.send(
            build(spec, notification),
            hostname=spec.host,
            port=spec.port,
            start_tls=spec.starttls,
            use_tls=spec.tls,
            username=spec.username,
            password=spec.password.get_secret_value() if spec.password else None,
        )
    except aiosmtplib.SMTPResponseException as exc:
        # 4xx is the server asking to come back later; 5xx is a refusal
        raise DeliveryError(
            f"SMTP {exc.code}: {cut(exc.message, REASON_BODY_LIMIT)}",
            retryable=400 <= exc.code < 500,
            category="smtp",
        ) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise DeliveryError(
            f"SMTP connection: {exc}", retryable=True, category="connection"
        ) from None
    except aiosmtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP: {exc}", retryable=False, category="smtp") from None


KIND = ReceiverKind("email", EmailReceiver, send)
