"""Console receiver: each notification as a readable block on stdout or stderr (demos, debugging)."""

from __future__ import annotations

import sys
from typing import Literal

from alerts.base import Alert, Notification, ReceiverContext, ReceiverKind, ReceiverSpec


class ConsoleReceiver(ReceiverSpec):
    """Print each notification to `stream`."""

    kind: Literal["console"] = "console"
    stream: Literal["stdout", "stderr"] = "stdout"


def _line(a: Alert) -> str:
    name = a.labels.get("alertname", "alert")
    what = a.annotations.get("summary") or " ".join(
        f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname"
    )
    since = a.starts_at.strftime("%H:%M:%S UTC")
    end = f", resolved {a.ends_at.strftime('%H:%M:%S UTC')}" if a.ends_at else ""
    return f"  {a.status.upper():8} {name}: {what} (since {since}{end})"


def block(n: Notification) -> str:
    """The notification as lines: a header with receiver, status and group, then one per alert."""
    group = " ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items()))
    head = f"── alert to {n.receiver}: {n.status.upper()} [{len(n.alerts)}] {group}".rstrip()
    return "\n".join([head, *(_line(a) for a in n.alerts)]) + "\n"


async def send(spec: ConsoleReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Write one block; the stream is looked up now, so a redirected stdout is honoured."""
    stream = sys.stdout if spec.stream == "stdout" else sys.stderr
    stream.write(block(notification))
    stream.flush()


KIND = ReceiverKind("console", ConsoleReceiver, send)
