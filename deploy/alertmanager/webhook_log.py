"""Log Alertmanager webhook notifications: the receiver of the compose example, one line per alert.

Alertmanager posts to http://webhook:5001/<receiver>; this prints each alert of each
notification (`docker compose logs -f webhook`), so the example shows where alerts go until you
put Slack, PagerDuty or email in deploy/alertmanager/alertmanager.yml. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20  # Alertmanager's notifications are far smaller; refuse anything bigger


def describe(path: str, body: dict[str, Any]) -> list[str]:
    """One line per alert of a notification: receiver path, status, alertname and labels."""
    lines = []
    for alert in body.get("alerts") or []:
        labels = dict(alert.get("labels") or {})
        name = labels.pop("alertname", "?")
        rest = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        lines.append(f"{path} {alert.get('status', '?')} {name} {rest}".rstrip())
    return lines


class Handler(BaseHTTPRequestHandler):
    """POST: log the notification's alerts and answer 200; a bad body is logged and answered 400."""

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._answer(400, f"{self.path}: bad Content-Length")
            return
        try:
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self._answer(400, f"{self.path}: not an Alertmanager notification: {exc}")
            return
        for line in describe(self.path, body):
            print(line, flush=True)
        self._answer(200, "")

    def _answer(self, status: int, problem: str) -> None:
        if problem:
            print(problem, file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the alerts are the log."""


def main() -> None:
    """Listen on WEBHOOK_LISTEN (host:port, default 0.0.0.0:5001) until stopped."""
    host, _, port = os.environ.get("WEBHOOK_LISTEN", "0.0.0.0:5001").rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    print(f"webhook log listening on {host}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
