"""One delivery attempt: the receiver's send under its timeout, every failure as a DeliveryError."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import aiohttp

from alerts.base import REASON_LIMIT, DeliveryError, Notification, ReceiverContext
from alerts.redact import known_secrets, redact
from alerts.registry import KINDS
from alerts.text import cut

log = logging.getLogger("outwatch.alerts")


def without_resolved(n: Notification, receiver: Any) -> Notification | None:
    """Drop resolved alerts for receivers that do not want them; None when nothing is left."""
    if receiver.send_resolved:
        return n
    firing = tuple(a for a in n.alerts if a.status == "firing")
    if not firing:
        return None
    return Notification(n.receiver, n.group_key, n.group_labels, firing, n.external_url, n.id)


async def attempt(receiver: Any, n: Notification, ctx: ReceiverContext) -> None:
    """Send once, bounded by the receiver's timeout; raise DeliveryError on any failure.

    Every reason is redacted here, whatever produced it, so no caller can store, log or print
    the receiver's secrets.
    """
    try:
        await _attempt(receiver, n, ctx)
    except DeliveryError as exc:
        raise DeliveryError(
            cut(redact(exc.reason, known_secrets(receiver)), REASON_LIMIT),
            retryable=exc.retryable,
            retry_after=exc.retry_after,
            category=exc.category,
        ) from None


async def _attempt(receiver: Any, n: Notification, ctx: ReceiverContext) -> None:
    kind = KINDS[receiver.kind]
    try:
        async with asyncio.timeout(receiver.timeout):
            await kind.send(receiver, n, ctx)
    except DeliveryError:
        raise
    except TimeoutError:
        raise DeliveryError(
            f"timed out after {receiver.timeout:g}s", retryable=True, category="timeout"
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS error: {exc}", retryable=True, category="connection") from None
    except (aiohttp.ClientConnectionError, ConnectionError, OSError) as exc:
        raise DeliveryError(
            f"connection failed: {exc or type(exc).__name__}", retryable=True, category="connection"
        ) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(
            f"HTTP client error: {exc or type(exc).__name__}", retryable=True, category="connection"
        ) from None
    except Exception as exc:  # a bug in a receiver must not kill the outbox; retrying won't help
        # no traceback: its frames and message may hold the receiver's secrets
        reason = redact(f"unexpected {type(exc).__name__}: {exc}", known_secrets(receiver))
        log.error("receiver %s (%s) raised: %s", receiver.name, receiver.kind, reason)
        raise DeliveryError(reason, retryable=False, category="error") from None
