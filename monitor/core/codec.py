"""Times as text and back: the one codec for snapshots, stored rows and API data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.core.base import Outage


def iso(t: datetime | None) -> str | None:
    """An aware time as ISO 8601 text in UTC (naive times are taken as UTC); None stays None."""
    if t is None:
        return None
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).isoformat()


def dt(text: str | None) -> datetime | None:
    """The inverse of iso(): ISO 8601 text (a trailing Z allowed) as an aware time, or None."""
    if not text:
        return None
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def utc(t: datetime) -> datetime:
    """A naive time taken as UTC; an aware one unchanged."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def outage_dict(o: Outage | None) -> dict[str, Any] | None:
    """An outage as plain data (None stays None)."""
    if o is None:
        return None
    return {
        "service": o.service,
        "started_at": o.started_at.isoformat(),
        "ended_at": iso(o.ended_at),
        "worst": o.worst,
        "signature": dict(o.signature),
        "failing_checks": list(o.failing_checks),
    }


def outage_from(d: Mapping[str, Any] | None) -> Outage | None:
    """The inverse of outage_dict."""
    if not d:
        return None
    return Outage(
        service=d["service"],
        started_at=datetime.fromisoformat(d["started_at"]),
        ended_at=dt(d.get("ended_at")),
        worst=d.get("worst", "down"),
        signature=dict(d.get("signature") or {}),
        failing_checks=tuple(d.get("failing_checks") or ()),
    )
