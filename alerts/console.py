"""Console receiver: each notification as a readable block on stdout or stderr (demos, debugging)."""

from __future__ import annotations

import sys
from typing import Literal

from alerts.base import Notification, ReceiverContext, ReceiverKind, ReceiverSpec
from alerts.text import alert_line, title


class ConsoleReceiver(ReceiverSpec):
    """Print each notification to `stream`."""

    kind: Literal["console"] = "console"
    stream: Literal["stdout", "stderr"] = "stdout"


def block(n: Notification) -> str:
    """The notification as lines: who it is for and its title, then one line per alert."""
    lines = [f"── alert to {n.receiver}: {title(n)}", *(f"   {alert_line(a)}" for a in n.alerts)]
    return "\n".join(lines) + "\n"


async def send(spec: ConsoleReceiver, notification: Notification, ctx: ReceiverContext) -> None:
    """Write one block; the stream is looked up now, so a redirected stdout is honoured."""
    stream = sys.stdout if spec.stream == "stdout" else sys.stderr
    stream.write(block(notification))
    stream.flush()


KIND = ReceiverKind("console", ConsoleReceiver, send)
