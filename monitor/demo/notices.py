"""The demo's notices: the Telegram Desktop export shipped in the package, as messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.base import Message


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in value)
    return str(value or "")


def load_notices(path: Path, source: str) -> list[Message]:
    """The export's messages, oldest first (a stand-in until the export source lands)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = [
        Message(
            source=source,
            id=str(m["id"]),
            published_at=datetime.fromtimestamp(int(m["date_unixtime"]), UTC),
            text=_text(m.get("text")),
        )
        for m in data["messages"]
        if m.get("type") == "message"
    ]
    return sorted(out, key=lambda m: m.published_at)
