"""Every table of monitor's database, in one place (alerts/ keeps its own: it never imports monitor)."""

from __future__ import annotations

import sqlite_utils


def create_all(db: sqlite_utils.Database) -> None:
    """Create every table and index that is missing (idempotent; run when the store opens)."""
    _results(db)
    _announcements(db)
    _channels(db)
    _incidents(db)


def _results(db: sqlite_utils.Database) -> None:
    db.table("results").create(
        {
            "ts": str,
            "service": str,
            "check_id": str,
            "kind": str,
            "ok": int,
            "error": str,
            "duration": float,
            "status_code": int,
            "detail": str,
        },
        if_not_exists=True,
    )
    db.table("results").create_index(["ts"], if_not_exists=True)
    db.table("results").create_index(["service", "check_id", "ts"], if_not_exists=True)
    # successes are pruned sooner than failures; without this, each prune batch would scan
    # past every failure kept in the ts index
    db.execute("CREATE INDEX IF NOT EXISTS results_ok_ts ON results(ts) WHERE ok = 1")
    db.table("state").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.table("outages").create(
        {
            "id": str,
            "service": str,
            "started_at": str,
            "ended_at": str,
            "worst": str,
            "signature": str,
            "failing_checks": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("outages").create_index(["service", "started_at"], if_not_exists=True)


def _announcements(db: sqlite_utils.Database) -> None:
    db.table("announcements").create(
        {
            "source": str,
            "id": str,
            "published_at": str,
            "edited_at": str,
            "text": str,
            "url": str,
            "deleted": int,
            "deleted_at": str,
            "kind": str,
            "services": str,
            "confidence": float,
            "evidence": str,
            "claims": str,
            "version": int,
            "first_seen": str,
            "updated_at": str,
        },
        pk=("source", "id"),
        not_null={"source", "id", "published_at", "text", "kind"},
        defaults={"deleted": 0, "version": 1},
        if_not_exists=True,
    )
    for table in ("announcements", "announcement_edits"):
        if db.table(table).exists() and "claims" not in db.table(table).columns_dict:
            db.table(table).add_column("claims", str)  # stores from before claims
    db.table("announcements").create_index(["published_at"], if_not_exists=True)
    db.table("announcements").create_index(["source", "published_at"], if_not_exists=True)
    db.table("announcement_edits").create(
        {
            "source": str,
            "id": str,
            "version": int,
            "text": str,
            "edited_at": str,
            "kind": str,
            "services": str,
            "claims": str,
            "recorded_at": str,
        },
        pk=("source", "id", "version"),
        if_not_exists=True,
    )


def _channels(db: sqlite_utils.Database) -> None:
    db.table("source_cursors").create(
        {"source": str, "value": str, "updated_at": str}, pk="source", if_not_exists=True
    )
    db.table("telegram_channels").create(
        {
            "key": str,
            "channel_id": int,
            "access_hash": int,
            "username": str,
            "title": str,
            "pinned_at": str,
            "seen_username": str,
            "seen_title": str,
            "seen_at": str,
        },
        pk="key",
        if_not_exists=True,
    )


def _incidents(db: sqlite_utils.Database) -> None:
    db.table("incidents").create(
        {
            "id": str,
            "service": str,
            "group": str,
            "status": str,
            "observed": int,
            "announced": int,
            "confirmed": int,
            "started_at": str,
            "ended_at": str,
            "first_notice_at": str,
            "campaign": str,
            "outages": str,
            "announcements": str,
            "flags": str,
            "flags_at": str,
            "cause": str,
            "withdrawn": str,
            "evidence": str,
        },
        pk="id",
        if_not_exists=True,
    )
    have = db.table("incidents").columns_dict
    for column in ("flags_at", "cause", "withdrawn"):  # stores from before them
        if column not in have:
            db.table("incidents").add_column(column, str)
    db.table("incidents").create_index(["started_at"], if_not_exists=True)
    db.table("incidents").create_index(["service", "started_at"], if_not_exists=True)
    db.table("campaigns").create(
        {
            "id": str,
            "status": str,
            "started_at": str,
            "ended_at": str,
            "services": str,
            "incidents": str,
            "groups": str,
        },
        pk="id",
        if_not_exists=True,
    )
