"""The table of firing alerts, so a restart can tell which of them resolved while it was down."""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from alerts.base import Alert
from alerts.codec import alert_from_dict, alert_to_dict

TABLE = "alert_active"


def create_table(db: sqlite_utils.Database) -> None:
    """Create the table if missing."""
    db.table(TABLE).create({"fingerprint": str, "alert": str}, pk="fingerprint", if_not_exists=True)


def save(db: sqlite_utils.Database, upsert: Iterable[Alert], delete: Iterable[str]) -> None:
    """Record new or changed firing alerts and forget resolved ones."""
    rows = [{"fingerprint": a.fingerprint, "alert": json.dumps(alert_to_dict(a))} for a in upsert]
    if rows:
        db.table(TABLE).upsert_all(rows, pk="fingerprint")
    for fp in delete:
        db.execute(f"DELETE FROM {TABLE} WHERE fingerprint = ?", [fp])


def load(db: sqlite_utils.Database) -> list[Alert]:
    """Every alert firing when the process last wrote."""
    return [alert_from_dict(json.loads(r["alert"])) for r in db.query(f"SELECT alert FROM {TABLE}")]
