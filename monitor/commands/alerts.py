"""`outwatch alerts test -c FILE RECEIVER`: send one test notification straight to a receiver."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

import aiohttp

from alerts.base import Alert, DeliveryError, Notification, ReceiverContext
from alerts.delivery import attempt
from monitor import config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("alerts", help="alerting tools (test a receiver)")
    inner = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    t = inner.add_parser(
        "test", help="send one test notification to RECEIVER (exit 0 delivered, 1 failed, 2 bad)"
    )
    t.add_argument("-c", "--config", required=True, help="config file")
    t.add_argument("receiver", help="receiver name from alerts.receivers")
    t.set_defaults(func=run_test)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def test_notification(receiver: str, vantage: str, external_url: str) -> Notification:
    """A harmless notification that says what it is."""
    alert = Alert(
        labels={"alertname": "outwatch_test", "vantage": vantage, "severity": "info"},
        annotations={"summary": f"Test notification from outwatch at {vantage}; no action needed."},
        starts_at=datetime.now(UTC),
    )
    key = f"test:{{vantage={vantage!r}}}"
    return Notification(
        receiver, key, {"alertname": "outwatch_test"}, (alert,), external_url, "test"
    )


async def _send(receiver: object, n: Notification, vantage: str, external_url: str) -> float:
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        await attempt(receiver, n, ReceiverContext(session, vantage, external_url))
        return time.monotonic() - started


def run_test(args: argparse.Namespace) -> int:
    """Send, then print the result on one line."""
    cfg = config.load(args.config)
    receiver = cfg.alerts.receiver(args.receiver)
    if receiver is None:
        known = ", ".join(r.name for r in cfg.alerts.receivers) or "none configured"
        print(f"outwatch: no receiver named {args.receiver!r} (known: {known})")
        return 2
    external = cfg.web.external_url or ""
    n = test_notification(receiver.name, cfg.vantage.name, external)
    try:
        took = asyncio.run(_send(receiver, n, cfg.vantage.name, external))
    except DeliveryError as exc:
        again = " (temporary; worth retrying)" if exc.retryable else ""
        print(f"{receiver.name} ({receiver.kind}): failed: {exc.reason}{again}")
        return 1
    print(f"{receiver.name} ({receiver.kind}): delivered in {took:.2f}s")
    return 0
