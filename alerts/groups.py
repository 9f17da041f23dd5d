"""Aggregation groups and the notification log: when a group's state is worth a notification."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from alerts.base import Alert
from alerts.router import Route

NFLOG = "alert_nflog"


@dataclass(frozen=True)
class LogEntry:
    """What a receiver was last told about a group, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: datetime


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat: float,
    now: datetime,
) -> bool:
    """Alertmanager's dedup rule: new firing alerts, news of resolution, or the repeat is due."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # all resolved: tell (or at least log) it only if the receiver knew some were firing
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at <= now - timedelta(seconds=repeat)


@dataclass
class Group:
    """The alerts one route collects under one set of group labels, with its timer."""

    route: Route
    key: str
    labels: dict[str, str]
    next_flush: float  # monotonic seconds
    alerts: dict[str, Alert] = field(default_factory=dict)

    @property
    def slot(self) -> str:
        """Where the dispatcher keeps it: two routes may build the same group key."""
        return slot(self.route, self.key)


def slot(route: Route, key: str) -> str:
    """A group's identity inside the dispatcher: the route's place in the tree and the key."""
    return f"{route.id} {key}"


# -- the notification log table ---------------------------------------------------------------


def create_table(db: sqlite_utils.Database) -> None:
    """Create the notification log if missing."""
    db.table(NFLOG).create(
        {"receiver": str, "group_key": str, "firing": str, "resolved": str, "at": str},
        pk=("receiver", "group_key"),
        if_not_exists=True,
    )


def save_entry(db: sqlite_utils.Database, receiver: str, key: str, entry: LogEntry) -> None:
    """Record what was just queued for a receiver about a group."""
    db.table(NFLOG).upsert(
        {
            "receiver": receiver,
            "group_key": key,
            "firing": json.dumps(sorted(entry.firing)),
            "resolved": json.dumps(sorted(entry.resolved)),
            "at": entry.at.isoformat(),
        },
        pk=("receiver", "group_key"),
    )


def load_entries(db: sqlite_utils.Database) -> dict[tuple[str, str], LogEntry]:
    """The whole notification log (small: one row per receiver and group)."""
    return {
        (r["receiver"], r["group_key"]): LogEntry(
            frozenset(json.loads(r["firing"])),
            frozenset(json.loads(r["resolved"])),
            datetime.fromisoformat(r["at"]),
        )
        for r in db.query(f"SELECT * FROM {NFLOG}")
    }


def prune_entries(db: sqlite_utils.Database, before: datetime) -> int:
    """Forget entries not written since `before` (live groups rewrite theirs every repeat)."""
    cur = db.execute(f"DELETE FROM {NFLOG} WHERE at < ?", [before.isoformat()])
    return int(cur.rowcount or 0)
