"""One delivery attempt: the receiver's send under its timeout, every failure as a DeliveryError."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import aiohttp

from alerts.base import DeliveryError, Notification, ReceiverContext
from alerts.registry import KINDS

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
    """Send once, bounded by the receiver's timeout; raise DeliveryError on any failure."""
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
        log.exception("receiver %s (%s) raised unexpectedly", receiver.name, receiver.kind)
        raise DeliveryError(
            f"unexpected {type(exc).__name__}: {exc}", retryable=False, category="error"
        ) from None
