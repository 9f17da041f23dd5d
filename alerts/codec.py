"""Alerts and notifications to JSON and back (the outbox and state tables store them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.base import Alert, Notification


def alert_to_dict(a: Alert) -> dict[str, Any]:
    """JSON-ready form of an alert."""
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "starts_at": a.starts_at.isoformat(),
        "ends_at": a.ends_at.isoformat() if a.ends_at else None,
        "generator_url": a.generator_url,
    }


def alert_from_dict(d: dict[str, Any]) -> Alert:
    """Inverse of alert_to_dict."""
    return Alert(
        labels=dict(d["labels"]),
        annotations=dict(d["annotations"]),
        starts_at=datetime.fromisoformat(d["starts_at"]),
        ends_at=datetime.fromisoformat(d["ends_at"]) if d.get("ends_at") else None,
        generator_url=d.get("generator_url") or "",
    )


def notification_to_dict(n: Notification) -> dict[str, Any]:
    """JSON-ready form of a notification."""
    return {
        "id": n.id,
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "external_url": n.external_url,
        "alerts": [alert_to_dict(a) for a in n.alerts],
    }


def notification_from_dict(d: dict[str, Any]) -> Notification:
    """Inverse of notification_to_dict."""
    return Notification(
        receiver=d["receiver"],
        group_key=d["group_key"],
        group_labels=dict(d["group_labels"]),
        alerts=tuple(alert_from_dict(a) for a in d["alerts"]),
        external_url=d.get("external_url") or "",
        id=d.get("id") or "",
    )
