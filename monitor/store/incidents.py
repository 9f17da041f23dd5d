"""Incidents and campaigns in SQLite (run these through monitor.store.db.Store.run / run_sync)."""

from __future__ import annotations

import json
import logging
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

log = logging.getLogger("outwatch.incidents")

SNAPSHOT_KEY = "correlator"
_JSON_INCIDENT = ("outages", "announcements", "flags", "flags_at", "evidence", "withdrawn")
# ids a person can say (`INC-20220215-004`); older rows keep their `<service>@<iso>` ids
_SAYABLE = "'[A-Z][A-Z][A-Z]-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9]*'"
_JSON_CAMPAIGN = ("services", "incidents", "groups")


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
    db.table("incidents").upsert(_incident_row(inc), pk="id")


def upsert_campaign(db: sqlite_utils.Database, c: Campaign) -> None:
    """Insert or update a campaign by id."""
    db.table("campaigns").upsert(_campaign_row(c), pk="id")


def apply_changes(db: sqlite_utils.Database, changes: Iterable[Change]) -> int:
    """Write what the correlator decided; withdrawn incidents and campaigns are deleted."""
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
    row = next(db.query("SELECT * FROM incidents WHERE id = ?", [incident_id]), None)
    return _incident_out(row) if row else None


def list_campaigns(
    db: sqlite_utils.Database,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Campaigns as API data, newest first."""
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
    """Resume the correlator from the last snapshot; False if there was none.

    The ids already stored are reserved either way, so a lost or older snapshot can never
    make the correlator hand out an id that names another incident.
    """
    snap = get_state(db, SNAPSHOT_KEY)
    restored = False
    if isinstance(snap, dict):
        try:
            dropped = corr.restore(snap)
            restored = True
        except ValueError as exc:  # a bad snapshot must not stop the daemon: start afresh
            log.error("ignoring the saved incidents: %s", exc)
            dropped = 0
        if dropped:
            log.warning("dropped %d saved incident parts with out-of-range times", dropped)
    corr.reserve_ids(last_ids(db))
    return restored


def last_ids(db: sqlite_utils.Database) -> list[str]:
    """The highest stored incident and campaign id of each day."""
    out = []
    for table in ("incidents", "campaigns"):
        rows = db.execute(
            f"SELECT substr(id, 1, 13), max(CAST(substr(id, 14) AS INTEGER)) FROM {table} "
            f"WHERE id GLOB {_SAYABLE} GROUP BY 1"
        ).fetchall()
        out += [f"{day}{n}" for day, n in rows]
    return out


# -- for the incident, campaign and status pages ---------------------------------------------

MAX_TIMELINE_RESULTS = 20_000  # a day of one service's checks every few seconds


def get_campaign(db: sqlite_utils.Database, campaign_id: str) -> dict[str, Any] | None:
    """One campaign as API data, or None."""
    row = next(db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id]), None)
    return _campaign_out(row) if row else None


def incidents_by_id(db: sqlite_utils.Database, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The stored incidents among `ids`, oldest first."""
    wanted = list(dict.fromkeys(ids))[:500]
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = db.query(f"SELECT * FROM incidents WHERE id IN ({marks}) ORDER BY started_at", wanted)
    return [_incident_out(r) for r in rows]


def outages_by_id(db: sqlite_utils.Database, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The stored outages among `ids`, oldest first."""
    wanted = list(dict.fromkeys(ids))[:500]
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = db.query(
        f"SELECT id, service, started_at, ended_at, worst FROM outages WHERE id IN ({marks}) "
        "ORDER BY started_at",
        wanted,
    )
    return list(rows)


def results_between(
    db: sqlite_utils.Database, service: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """One service's probe results in [since, until], oldest first (capped: newest kept)."""
    rows = db.query(
        "SELECT ts, check_id, ok, error FROM results WHERE service = ? AND ts >= ? AND ts <= ? "
        "ORDER BY ts DESC LIMIT ?",
        [service, since.isoformat(), until.isoformat(), MAX_TIMELINE_RESULTS],
    )
    return list(reversed(list(rows)))


def data_span(
    db: sqlite_utils.Database, service: str, checks: Iterable[str], since: datetime
) -> tuple[str, str] | None:
    """The first and last result time of a service's checks since `since` (index seeks only)."""
    first: list[str] = []
    last: list[str] = []
    for check in checks:
        args = [service, check, since.isoformat()]
        where = "WHERE service = ? AND check_id = ? AND ts >= ?"
        lo = db.execute(f"SELECT min(ts) FROM results {where}", args).fetchone()[0]
        hi = db.execute(f"SELECT max(ts) FROM results {where}", args).fetchone()[0]
        if lo and hi:
            first.append(lo)
            last.append(hi)
    return (min(first), max(last)) if first else None
