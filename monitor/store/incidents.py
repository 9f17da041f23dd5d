"""Incidents and campaigns in SQLite (run these through monitor.store.db.Store.run / run_sync)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor.core.correlate import Correlator
from monitor.core.incidents import (
    Campaign,
    Change,
    Incident,
    campaign_dict,
    campaign_from,
    incident_dict,
    incident_from,
)
from monitor.store.db import get_state, put_state

SNAPSHOT_KEY = "correlator"
_JSON_INCIDENT = ("outages", "announcements", "flags", "evidence", "withdrawn")
_JSON_CAMPAIGN = ("services", "incidents", "groups")


def create_tables(db: sqlite_utils.Database) -> None:
    """Create the incidents and campaigns tables (idempotent)."""
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
            "evidence": str,
            "cause": str,
            "withdrawn": str,
        },
        pk="id",
        if_not_exists=True,
    )
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


def _incident_row(i: Incident) -> dict[str, Any]:
    row = incident_dict(i)
    for key in _JSON_INCIDENT:
        row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
    for key in ("observed", "announced", "confirmed"):
        row[key] = int(row[key])
    return row


def _incident_out(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_INCIDENT:
        row[key] = json.loads(row[key] or "null")
    for key in ("observed", "announced", "confirmed"):
        row[key] = bool(row[key])
    # hints and shares follow from the stored signature, so old rows get today's hints
    inc = incident_from(row)
    return incident_dict(inc)


def _campaign_row(c: Campaign) -> dict[str, Any]:
    row = campaign_dict(c)
    for key in _JSON_CAMPAIGN:
        row[key] = json.dumps(row[key])
    return row


def _campaign_out(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_CAMPAIGN:
        row[key] = json.loads(row[key] or "[]")
    return campaign_dict(campaign_from(row))


def upsert_incident(db: sqlite_utils.Database, inc: Incident) -> None:
    """Insert or update an incident by id."""
    create_tables(db)
    # alter: a database from before claims gains the cause and withdrawn columns
    db.table("incidents").upsert(_incident_row(inc), pk="id", alter=True)


def upsert_campaign(db: sqlite_utils.Database, c: Campaign) -> None:
    """Insert or update a campaign by id."""
    create_tables(db)
    db.table("campaigns").upsert(_campaign_row(c), pk="id")


def apply_changes(db: sqlite_utils.Database, changes: Iterable[Change]) -> int:
    """Write what the correlator decided; withdrawn incidents and campaigns are deleted."""
    create_tables(db)
    n = 0
    for ch in changes:
        if ch.incident is not None:
            if ch.kind == "incident_withdrawn":
                db.execute("DELETE FROM incidents WHERE id = ?", [ch.incident.id])
            else:
                db.table("incidents").upsert(_incident_row(ch.incident), pk="id")
            n += 1
        if ch.campaign is not None:
            if ch.kind == "campaign_withdrawn":
                db.execute("DELETE FROM campaigns WHERE id = ?", [ch.campaign.id])
            else:
                db.table("campaigns").upsert(_campaign_row(ch.campaign), pk="id")
            n += 1
    return n


def list_incidents(
    db: sqlite_utils.Database,
    status: str | None = None,
    service: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Incidents as API data, newest first; `since` keeps those still open or ended after it."""
    create_tables(db)
    where, args = _filters(status, service)
    if since is not None:
        where.append("(ended_at IS NULL OR ended_at >= ? OR started_at >= ?)")
        args += [since.isoformat(), since.isoformat()]
    sql = "SELECT * FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.query(f"{sql} ORDER BY started_at DESC, id LIMIT ?", [*args, limit])
    return [_incident_out(r) for r in rows]


def _filters(status: str | None, service: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if status:
        where.append("status = ?")
        args.append(status)
    if service:
        where.append("service = ?")
        args.append(service)
    return where, args


def get_incident(db: sqlite_utils.Database, incident_id: str) -> dict[str, Any] | None:
    """One incident as API data, or None."""
    create_tables(db)
    row = next(db.query("SELECT * FROM incidents WHERE id = ?", [incident_id]), None)
    return _incident_out(row) if row else None


def list_campaigns(
    db: sqlite_utils.Database,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Campaigns as API data, newest first."""
    create_tables(db)
    where, args = _filters(status, None)
    if since is not None:
        where.append("(ended_at IS NULL OR ended_at >= ?)")
        args.append(since.isoformat())
    sql = "SELECT * FROM campaigns"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.query(f"{sql} ORDER BY started_at DESC, id LIMIT ?", [*args, limit])
    return [_campaign_out(r) for r in rows]


def save_snapshot(db: sqlite_utils.Database, corr: Correlator) -> None:
    """Save the correlator's memory (with the changes it produced, in the same transaction)."""
    put_state(db, SNAPSHOT_KEY, corr.snapshot())


def load_snapshot(db: sqlite_utils.Database, corr: Correlator) -> bool:
    """Resume the correlator from the last snapshot; False if there was none."""
    snap = get_state(db, SNAPSHOT_KEY)
    if not isinstance(snap, dict):
        return False
    corr.restore(snap)
    return True
