"""Aggregation groups and the notification log: when a group's state is worth a notification."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from alerts.base import Alert, Notification
from alerts.codec import alert_from_dict, alert_to_dict
from alerts.router import Route, group_key, group_labels, shown_group_labels
from alerts.timeintervals import NamedTimeInterval, active

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
    next_flush: float  # seconds on the owner's timer clock (monotonic, or epoch in a fleet)
    alerts: dict[str, Alert] = field(default_factory=dict)

    @property
    def slot(self) -> str:
        """Where the dispatcher keeps it: two routes may build the same group key."""
        return slot(self.route, self.key)

    def visible(self, muted: Collection[str]) -> list[Alert]:
        """Its alerts no mute hides, oldest first (the order a notification lists them)."""
        return sorted(
            (a for fp, a in self.alerts.items() if fp not in muted),
            key=lambda a: (a.starts_at, a.fingerprint),
        )

    def forget_resolved(self) -> bool:
        """After a flush resolved alerts have been told (or were muted): drop them; True when
        nothing is left, so the owner drops the group."""
        for fp in [fp for fp, a in self.alerts.items() if a.ends_at is not None]:
            del self.alerts[fp]
        return not self.alerts


def slot(route: Route, key: str) -> str:
    """A group's identity inside the dispatcher: the route's place in the tree and the key."""
    return f"{route.id} {key}"


def place(
    groups: dict[str, Group], root: Route, a: Alert, at: float, *, group_campaigns: bool
) -> bool:
    """Put (or refresh) an alert in the group of every route it matches; a group born now is
    first flushed group_wait after `at`. True if a group was born."""
    born = False
    for route in root.match(a.labels):
        labels = group_labels(route, a.labels, group_campaigns=group_campaigns)
        key = group_key(route, labels)
        group = groups.get(slot(route, key))
        if group is None:
            group = Group(route, key, labels, next_flush=at + route.group_wait)
            groups[group.slot] = group
            born = True
        group.alerts[a.fingerprint] = a
    return born


def timings(route: Route, receiver: Any) -> tuple[float, float]:
    """A group's (group_interval, repeat_interval): a receiver's resend_interval caps both."""
    interval, repeat = route.group_interval, route.repeat_interval
    if receiver is not None and receiver.resend_interval:
        interval = min(interval, receiver.resend_interval)
        repeat = min(repeat, receiver.resend_interval)
    return interval, repeat


def time_muted(route: Route, named: Mapping[str, NamedTimeInterval], now: datetime) -> bool:
    """Alertmanager's time mute and time active stages: the whole group waits."""

    def inside(names: tuple[str, ...]) -> bool:
        return any(active(named[n].time_intervals, now) for n in names if n in named)

    if route.active_time_intervals and not inside(route.active_time_intervals):
        return True
    return inside(route.mute_time_intervals)


def turn(
    g: Group,
    receiver: Any,
    named: Mapping[str, NamedTimeInterval],
    at: float,
    now: datetime,
    muted: Collection[str],
) -> tuple[list[Alert], float] | None:
    """A due group's turn: its timer moves on to `at` + group_interval; the alerts to tell
    `receiver` and its repeat_interval, or None when there is nothing to tell (no receiver,
    every alert muted, or a time mute holds the group). `at` is on the caller's clock."""
    interval, repeat = timings(g.route, receiver)
    g.next_flush = at + interval
    visible = g.visible(muted)
    if receiver is None or not visible or time_muted(g.route, named, now):
        return None
    return visible, repeat


def flush(
    g: Group,
    receiver: Any,
    entry: LogEntry | None,
    visible: list[Alert],
    now: datetime,
    repeat: float,
    external_url: str = "",
) -> tuple[Notification, LogEntry] | None:
    """The dedup stage for one group and receiver: the notification to queue (its id left for
    the caller to set) and the log entry to record with it, or None when nothing is worth it."""
    firing = frozenset(a.fingerprint for a in visible if a.ends_at is None)
    resolved = frozenset(a.fingerprint for a in visible if a.ends_at is not None)
    if not needs_update(
        entry, firing, resolved, send_resolved=receiver.send_resolved, repeat=repeat, now=now
    ):
        return None
    labels = shown_group_labels(g.route, g.labels, visible)
    n = Notification(receiver.name, g.key, labels, tuple(visible), external_url)
    return n, LogEntry(firing, resolved, now)


def snapshot(groups: Mapping[str, Group]) -> list[dict[str, Any]]:
    """The groups as plain data (for an owner whose timers are wall-clock seconds)."""
    return [
        {
            "route": g.route.id,
            "key": g.key,
            "labels": dict(g.labels),
            "next_flush": g.next_flush,
            "alerts": [alert_to_dict(a) for a in g.alerts.values()],
        }
        for g in groups.values()
    ]


def restore(data: list[dict[str, Any]] | None, root: Route) -> dict[str, Group]:
    """The inverse of snapshot() under the route tree `root`: a group whose route is gone or
    groups differently now is dropped (its alerts are placed afresh, with a new group_wait)."""
    routes: dict[str, Route] = {}
    todo = [root]
    while todo:
        r = todo.pop()
        routes[r.id] = r
        todo.extend(r.routes)
    out: dict[str, Group] = {}
    for d in data or []:
        route = routes.get(d["route"])
        if route is None or group_key(route, d["labels"]) != d["key"]:
            continue
        alerts = [alert_from_dict(a) for a in d["alerts"]]
        g = Group(route, d["key"], dict(d["labels"]), float(d["next_flush"]))
        g.alerts = {a.fingerprint: a for a in alerts}
        out[g.slot] = g
    return out


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
