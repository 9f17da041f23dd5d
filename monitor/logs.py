"""Logging: human-readable by default, JSON lines for log shippers; each line names what it concerns."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# `extra=` keys that say what a line concerns; shown in both formats.
CONTEXT = ("service", "check", "source", "receiver", "incident", "campaign", "path")


class TextFormatter(logging.Formatter):
    """`2022-02-15T12:00:00Z info  outwatch.daemon service=privatbank: message`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ctx = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT if hasattr(record, k))
        line = f"{ts} {record.levelname.lower():<7} {record.name}{' ' + ctx if ctx else ''}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k in CONTEXT:
            if hasattr(record, k):
                out[k] = getattr(record, k)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "telethon", "pymorphy3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
