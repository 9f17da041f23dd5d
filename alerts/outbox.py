"""The durable outbox: a notification is a row before it is sent, and marked once delivered."""

from __future__ import annotations

import json
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlite_utils

from alerts.base import Notification
from alerts.codec import notification_from_dict, notification_to_dict
from alerts.config import DeliveryConfig

TABLE = "alert_outbox"
OutboxState = Literal["pending", "delivered", "failed", "superseded"]


@dataclass(frozen=True)
class Entry:
    """One pending notification with its delivery history."""

    id: str
    notification: Notification
    attempts: int
    created_at: float  # epoch seconds
    last_error: str


def create_table(db: sqlite_utils.Database) -> None:
    """Create the outbox if missing."""
    db.table(TABLE).create(
        {
            "id": str,
            "receiver": str,
            "group_key": str,
            "payload": str,
            "state": str,
            "attempts": int,
            "created_at": float,
            "next_attempt_at": float,
            "last_error": str,
            "finished_at": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["state", "next_attempt_at"], if_not_exists=True)


def enqueue(db: sqlite_utils.Database, n: Notification, now: datetime) -> None:
    """Queue `n` (its id set); older pending ones for the same group are superseded by it.

    Each notification carries the group's whole state, so only the newest is worth sending.
    """
    ts = now.timestamp()
    db.execute(
        f"UPDATE {TABLE} SET state = 'superseded', finished_at = ? "
        "WHERE state = 'pending' AND receiver = ? AND group_key = ?",
        [ts, n.receiver, n.group_key],
    )
    db.table(TABLE).insert(
        {
            "id": n.id,
            "receiver": n.receiver,
            "group_key": n.group_key,
            "payload": json.dumps(notification_to_dict(n), ensure_ascii=False),
            "state": "pending",
            "attempts": 0,
            "created_at": ts,
            "next_attempt_at": ts,
            "last_error": "",
            "finished_at": None,
        }
    )


def due(
    db: sqlite_utils.Database, now: datetime, skip: Collection[str] = (), limit: int = 100
) -> list[Entry]:
    """Pending notifications whose next attempt is due, oldest first, except those in `skip`."""
    rows = db.query(
        f"SELECT * FROM {TABLE} WHERE state = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, created_at LIMIT ?",
        [now.timestamp(), limit + len(skip)],
    )
    out = []
    for r in rows:
        if r["id"] in skip:
            continue
        n = notification_from_dict(json.loads(r["payload"]))
        out.append(
            Entry(r["id"], n, int(r["attempts"]), float(r["created_at"]), r["last_error"] or "")
        )
    return out[:limit]


def next_due(db: sqlite_utils.Database, skip: Collection[str] = ()) -> float | None:
    """Epoch seconds of the earliest pending attempt not in `skip`, or None."""
    where = f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""
    row = next(
        db.query(
            f"SELECT MIN(next_attempt_at) AS t FROM {TABLE} WHERE state = 'pending'{where}",
            list(skip),
        )
    )
    return float(row["t"]) if row["t"] is not None else None


def is_pending(db: sqlite_utils.Database, entry_id: str) -> bool:
    """Whether it still waits (not delivered, failed, or superseded meanwhile)."""
    row = next(db.query(f"SELECT state FROM {TABLE} WHERE id = ?", [entry_id]), None)
    return bool(row and row["state"] == "pending")


def mark_delivered(db: sqlite_utils.Database, entry_id: str, now: datetime, attempts: int) -> None:
    """The receiver accepted it: never send it again."""
    db.execute(
        f"UPDATE {TABLE} SET state = 'delivered', attempts = ?, finished_at = ?, last_error = '' "
        "WHERE id = ?",
        [attempts, now.timestamp(), entry_id],
    )


def mark_retry(
    db: sqlite_utils.Database, entry_id: str, attempts: int, next_at: float, reason: str
) -> None:
    """It failed in a way worth retrying at `next_at` (epoch seconds)."""
    db.execute(
        f"UPDATE {TABLE} SET attempts = ?, next_attempt_at = ?, last_error = ? "
        "WHERE id = ? AND state = 'pending'",
        [attempts, next_at, reason, entry_id],
    )


def mark_failed(
    db: sqlite_utils.Database, entry_id: str, attempts: int, now: datetime, reason: str
) -> None:
    """It failed for good; the reason stays for the operator."""
    db.execute(
        f"UPDATE {TABLE} SET state = 'failed', attempts = ?, finished_at = ?, last_error = ? "
        "WHERE id = ?",
        [attempts, now.timestamp(), reason, entry_id],
    )


def pending_count(db: sqlite_utils.Database) -> int:
    """How many notifications wait for delivery."""
    row = next(db.query(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE state = 'pending'"))
    return int(row["n"])


def prune(db: sqlite_utils.Database, before: datetime) -> int:
    """Delete finished rows older than `before`."""
    cur = db.execute(
        f"DELETE FROM {TABLE} WHERE state != 'pending' AND finished_at < ?", [before.timestamp()]
    )
    return int(cur.rowcount or 0)


def expire(
    db: sqlite_utils.Database,
    created_before: float,
    now: datetime,
    reason: str,
    skip: Collection[str] = (),
) -> list[str]:
    """Fail every pending notification created before `created_before` (epoch seconds), however
    far off its next attempt, except those in `skip` (in flight); returns their receivers."""
    rows = [
        r
        for r in db.query(
            f"SELECT id, receiver FROM {TABLE} WHERE state = 'pending' AND created_at < ?",
            [created_before],
        )
        if r["id"] not in skip
    ]
    for r in rows:
        mark_failed_at(db, r["id"], now, reason)
    return [r["receiver"] for r in rows]


def mark_failed_at(db: sqlite_utils.Database, entry_id: str, now: datetime, reason: str) -> None:
    """Fail a pending notification, keeping its attempt count."""
    db.execute(
        f"UPDATE {TABLE} SET state = 'failed', finished_at = ?, last_error = ? "
        "WHERE id = ? AND state = 'pending'",
        [now.timestamp(), reason, entry_id],
    )


def backoff(attempts: int, cfg: DeliveryConfig, rng: random.Random | None = None) -> float:
    """Seconds to wait after `attempts` failures: exponential, capped, with jitter in [d/2, d]."""
    rng = rng or random.Random()
    delay = min(cfg.max_backoff, cfg.initial_backoff * 2 ** max(attempts - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)
