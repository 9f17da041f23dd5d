"""The fleet's reads and writes in PostgreSQL; every write is idempotent on its natural key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from alerts.codec import alert_from_dict, alert_to_dict
from alerts.dispatcher import AlertView
from alerts.groups import LogEntry
from alerts.matchers import Matcher
from alerts.silences import Silence
from monitor.core.base import Announcement, Classification, Outage, claim_dict, claim_from
from monitor.core.codec import iso
from monitor.core.fleet import CheckView, InstanceReport, Verdict, report_from
from monitor.core.incidents import Campaign, Change, Incident, campaign_dict, incident_dict
from monitor.vocabulary import ANNOUNCEMENT_KINDS

Conn = AsyncConnection[Any]

# -- what each instance publishes ----------------------------------------------------------------


def check_row(
    vantage: str,
    instance: str,
    service: str,
    check: str,
    state: str,
    error: str | None,
    since: datetime | None,
    at: datetime,
) -> dict[str, Any]:
    """One check state as published (plain data, so it can be spooled to a file)."""
    return {
        "vantage": vantage,
        "instance": instance,
        "service": service,
        "check_id": check,
        "state": state,
        "error": error,
        "since": iso(since),
        "updated_at": iso(at),
    }


async def heartbeat(
    conn: Conn,
    instance: str,
    vantage: str,
    offline_since: datetime | None,
    started: datetime,
    facts: Mapping[str, Any] | None = None,
) -> None:
    """Say this instance is alive (on the database's clock: instances' clocks may disagree),
    whether its canaries say its vantage is offline, and its sources' and certificates' facts."""
    await conn.execute(
        "INSERT INTO fleet_instances AS f"
        " (instance, vantage, offline, offline_since, started_at, heartbeat_at, facts)"
        " VALUES (%s, %s, %s, %s, %s, now(), %s)"
        " ON CONFLICT (instance) DO UPDATE SET vantage = excluded.vantage,"
        " offline = excluded.offline, offline_since = excluded.offline_since,"
        " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
        " facts = excluded.facts",
        [instance, vantage, offline_since is not None, offline_since, started, Jsonb(facts or {})],
    )


async def leave(conn: Conn, instance: str) -> None:
    """An instance stopping on purpose: absent from the next decision, not after stale_after."""
    await conn.execute(
        "UPDATE fleet_instances SET heartbeat_at = '-infinity' WHERE instance = %s", [instance]
    )


async def put_checks(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert check states; an older row (a replayed spool) never overwrites a newer one."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO check_states AS c"
            " (vantage, service, check_id, instance, state, error, since, updated_at)"
            " VALUES (%(vantage)s, %(service)s, %(check_id)s, %(instance)s, %(state)s,"
            " %(error)s, %(since)s, %(updated_at)s)"
            " ON CONFLICT (vantage, service, check_id) DO UPDATE SET instance = excluded.instance,"
            " state = excluded.state, error = excluded.error, since = excluded.since,"
            " updated_at = excluded.updated_at, writer = pg_current_xact_id()"
            " WHERE c.updated_at <= excluded.updated_at",
            list(rows),
        )


async def put_transitions(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert check transitions; one already there (replayed) is skipped."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO check_transitions (vantage, service, check_id, at, old, new, instance)"
            " VALUES (%(vantage)s, %(service)s, %(check_id)s, %(at)s, %(old)s, %(new)s,"
            " %(instance)s) ON CONFLICT DO NOTHING",
            list(rows),
        )


def outage_row(vantage: str, o: Outage) -> dict[str, Any]:
    """One outage as published (plain data)."""
    return {
        "vantage": vantage,
        "id": o.id,
        "service": o.service,
        "started_at": iso(o.started_at),
        "ended_at": iso(o.ended_at),
        "worst": o.worst,
        "signature": dict(o.signature),
        "failing_checks": list(o.failing_checks),
    }


async def put_outages(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert outages by (vantage, id); an ended one stays ended."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO outages AS o"
            " (vantage, id, service, started_at, ended_at, worst, signature, failing_checks)"
            " VALUES (%(vantage)s, %(id)s, %(service)s, %(started_at)s, %(ended_at)s, %(worst)s,"
            " %(signature)s, %(failing_checks)s) ON CONFLICT (vantage, id) DO UPDATE SET"
            " ended_at = COALESCE(o.ended_at, excluded.ended_at), worst = excluded.worst,"
            " signature = excluded.signature, failing_checks = excluded.failing_checks",
            [
                {
                    **r,
                    "signature": Jsonb(r["signature"]),
                    "failing_checks": Jsonb(r["failing_checks"]),
                }
                for r in rows
            ],
        )


def announcement_row(ann: Announcement, instance: str, at: datetime) -> dict[str, Any]:
    """One announcement as published (plain data)."""
    m = ann.message
    return {
        "source": m.source,
        "id": m.id,
        "published_at": iso(m.published_at),
        "kind": ann.kind,
        "text": m.text,
        "url": m.url,
        "deleted": m.deleted,
        "data": {
            "services": list(ann.services),
            "confidence": ann.classification.confidence,
            "evidence": list(ann.classification.evidence),
            "claims": [claim_dict(c) for c in ann.classification.claims],
            "edited_at": iso(m.edited_at),
        },
        "recorded_by": instance,
        "recorded_at": iso(at),
    }


async def put_announcements(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> int:
    """Record notices once across the fleet, keyed (source, message id); an edit (new text)
    updates the row and moves it to the end of the decider's feed. Returns rows changed."""
    changed = 0
    for r in rows:
        cur = await conn.execute(
            "INSERT INTO announcements AS a (source, id, published_at, kind, text, url, deleted,"
            " data, recorded_by, recorded_at) VALUES (%(source)s, %(id)s, %(published_at)s,"
            " %(kind)s, %(text)s, %(url)s, %(deleted)s, %(data)s, %(recorded_by)s,"
            " %(recorded_at)s) ON CONFLICT (source, id) DO UPDATE SET text = excluded.text,"
            " kind = excluded.kind, deleted = excluded.deleted, data = excluded.data,"
            " seq = nextval(pg_get_serial_sequence('announcements', 'seq'))"
            " WHERE (a.text, a.kind, a.deleted) IS DISTINCT FROM"
            " (excluded.text, excluded.kind, excluded.deleted)",
            {**r, "data": Jsonb(r["data"])},
        )
        changed += cur.rowcount
        await conn.execute(
            "INSERT INTO announcement_claims (source, id, service, kind)"
            " SELECT %s, %s, s, %s FROM unnest(%s::text[]) AS s ON CONFLICT DO NOTHING",
            [r["source"], r["id"], r["kind"], r["data"]["services"]],
        )
    return changed


async def put_silences(conn: Conn, silences: Iterable[Silence], now: datetime) -> None:
    """Upsert silences made through an instance's API; the latest change of one wins."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO silences AS s (id, matchers, starts_at, ends_at, created_by, comment,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers,"
            " starts_at = excluded.starts_at, ends_at = excluded.ends_at,"
            " created_by = excluded.created_by, comment = excluded.comment,"
            " updated_at = excluded.updated_at WHERE s.updated_at <= excluded.updated_at",
            [
                (
                    x.id,
                    Jsonb([[m.name, m.value, m.is_regex, m.is_equal] for m in x.matchers]),
                    x.starts_at,
                    x.ends_at,
                    x.created_by,
                    x.comment,
                    x.created_at,
                    now,
                )
                for x in silences
                if x.ends_at is not None  # API silences always end
            ],
        )


async def load_silences(conn: Conn) -> list[Silence]:
    """The fleet's silences (made through any instance's API), oldest first."""
    cur = await conn.execute(
        "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM silences"
        " ORDER BY created_at, id"
    )
    return [
        Silence(
            sid,
            tuple(Matcher(str(n), str(v), bool(rx), bool(eq)) for n, v, rx, eq in matchers),
            starts,
            ends,
            by,
            comment,
            created,
        )
        for sid, matchers, starts, ends, by, comment, created in await cur.fetchall()
    ]


# -- what the decider reads ----------------------------------------------------------------------


async def load_instances(
    conn: Conn, stale_after: float
) -> tuple[frozenset[str], list[str], list[str]]:
    """The live instances, and the vantages present and absent.

    An instance silent longer than `stale_after` (on the database's clock), or whose canaries
    fail, is absent: its checks count neither up nor down. A vantage is present while any of its
    instances is.
    """
    cur = await conn.execute(
        "SELECT instance, vantage, offline, heartbeat_at >= now() - %s FROM fleet_instances",
        [timedelta(seconds=stale_after)],
    )
    live: set[str] = set()
    present: set[str] = set()
    every: set[str] = set()
    for instance, vantage, offline, alive in await cur.fetchall():
        every.add(vantage)
        if alive and not offline:
            live.add(instance)
            present.add(vantage)
    return frozenset(live), sorted(present), sorted(every - present)


async def load_reports(conn: Conn, stale_after: float) -> list[InstanceReport]:
    """What each instance heard from within `stale_after` says of itself (offline or not)."""
    cur = await conn.execute(
        "SELECT instance, vantage, offline_since, facts FROM fleet_instances"
        " WHERE heartbeat_at >= now() - %s",
        [timedelta(seconds=stale_after)],
    )
    return [
        report_from(instance, vantage, since, facts if isinstance(facts, dict) else {})
        for instance, vantage, since, facts in await cur.fetchall()
    ]


async def load_checks(conn: Conn, horizon: int) -> tuple[int, list[tuple[str, CheckView]]]:
    """Check states written by transactions from `horizon` on: (the next horizon, rows of
    (instance, view)). The next horizon is the oldest transaction open before the read, so a
    transaction that commits late is read next time, never skipped (rows may come twice)."""
    cur = await conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    row = await cur.fetchone()
    following = int(str(row[0])) if row else horizon
    cur = await conn.execute(
        "SELECT instance, vantage, service, check_id, state, error, since"
        " FROM check_states WHERE writer >= %s::text::xid8",
        [str(horizon)],
    )
    # all of the fleet's check states at a takeover (30,000 at 10,000 checks x 3 vantages):
    # made into views off the event loop
    return following, await asyncio.to_thread(_check_views, await cur.fetchall())


def _check_views(rows: Iterable[Any]) -> list[tuple[str, CheckView]]:
    return [(inst, CheckView(v, s, c, st, err, since)) for inst, v, s, c, st, err, since in rows]


async def new_announcements(conn: Conn, after: int) -> list[tuple[int, dict[str, Any]]]:
    """Announcements recorded (or edited) after the decider's cursor, in order."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM announcements WHERE seq > %s ORDER BY seq LIMIT 1000", [after])
    return [(int(r["seq"]), r) for r in await cur.fetchall()]


# -- what the decider writes ---------------------------------------------------------------------


async def get_memory(conn: Conn, key: str) -> Any:
    """The decider's saved memory under `key` (None if absent)."""
    cur = await conn.execute("SELECT value FROM fleet_memory WHERE key = %s", [key])
    row = await cur.fetchone()
    return row[0] if row else None


async def put_memory(conn: Conn, key: str, value: Any, now: datetime) -> None:
    """Save the decider's memory (in the transaction that wrote what it decided)."""
    await conn.execute(
        "INSERT INTO fleet_memory (key, value, updated_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, Jsonb(value), now],
    )


async def put_verdicts(conn: Conn, verdicts: Mapping[str, Verdict], now: datetime) -> None:
    """Each service's fleet status and who sees what."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO fleet_status AS f (service, status, verdict, changed_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (service) DO UPDATE SET"
            " verdict = excluded.verdict, updated_at = excluded.updated_at,"
            " changed_at = CASE WHEN f.status = excluded.status THEN f.changed_at"
            " ELSE excluded.changed_at END, status = excluded.status",
            [(s, v.status, Jsonb(v.as_dict()), now, now) for s, v in verdicts.items()],
        )


async def apply_changes(conn: Conn, changes: Iterable[Change]) -> None:
    """Write what the fleet's correlator decided; withdrawn ones are deleted. Only the last
    word on each incident and campaign is written: in a wave, each of hundreds of incidents
    joining a campaign updates it, and its row need not be rewritten each time."""
    incidents: dict[str, tuple[bool, Incident]] = {}
    campaigns: dict[str, tuple[bool, Campaign]] = {}
    for ch in changes:
        if ch.incident is not None:
            incidents[ch.incident.id] = (ch.kind == "incident_withdrawn", ch.incident)
        if ch.campaign is not None:
            campaigns[ch.campaign.id] = (ch.kind == "campaign_withdrawn", ch.campaign)
    async with conn.cursor() as cur:
        await cur.executemany(
            "DELETE FROM incidents WHERE id = %s",
            [[k] for k, (gone, _) in incidents.items() if gone],
        )
        await cur.executemany(
            "INSERT INTO incidents (id, service, status, started_at, ended_at, data)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " status = excluded.status, ended_at = excluded.ended_at, data = excluded.data",
            [
                [i.id, i.service, i.status, i.started_at, i.ended_at, Jsonb(incident_dict(i))]
                for gone, i in incidents.values()
                if not gone
            ],
        )
        await cur.executemany(
            "DELETE FROM campaigns WHERE id = %s",
            [[k] for k, (gone, _) in campaigns.items() if gone],
        )
        await cur.executemany(
            "INSERT INTO campaigns (id, status, started_at, ended_at, data)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " status = excluded.status, ended_at = excluded.ended_at, data = excluded.data",
            [
                [c.id, c.status, c.started_at, c.ended_at, Jsonb(campaign_dict(c))]
                for gone, c in campaigns.values()
                if not gone
            ],
        )


# -- the notification log and the published alerts ---------------------------------------------


async def load_nflog(conn: Conn) -> dict[tuple[str, str], LogEntry]:
    """The decider's notification log: per receiver and group key, what it was last told."""
    cur = await conn.execute("SELECT receiver, group_key, firing, resolved, at FROM fleet_nflog")
    return {
        (receiver, key): LogEntry(frozenset(firing), frozenset(resolved), at)
        for receiver, key, firing, resolved, at in await cur.fetchall()
    }


async def put_nflog(conn: Conn, receiver: str, key: str, entry: LogEntry) -> None:
    """Record what was just queued for a receiver about a group (with the outbox row)."""
    await conn.execute(
        "INSERT INTO fleet_nflog (receiver, group_key, firing, resolved, at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (receiver, group_key) DO UPDATE SET"
        " firing = excluded.firing, resolved = excluded.resolved, at = excluded.at",
        [receiver, key, Jsonb(sorted(entry.firing)), Jsonb(sorted(entry.resolved)), entry.at],
    )


async def put_alerts(conn: Conn, views: Sequence[AlertView], now: datetime) -> None:
    """Replace the fleet's published alerts with `views` (the decider's, this round)."""
    await conn.execute("DELETE FROM fleet_alerts")
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO fleet_alerts (fingerprint, alert, silenced_by, inhibited_by, receivers,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    v.alert.fingerprint,
                    Jsonb(alert_to_dict(v.alert)),
                    Jsonb(list(v.silenced_by)),
                    Jsonb(list(v.inhibited_by)),
                    Jsonb(list(v.receivers)),
                    now,
                )
                for v in views
            ],
        )


async def list_alerts(conn: Conn) -> list[AlertView]:
    """The fleet's firing alerts as the decider last published them, oldest first."""
    cur = await conn.execute(
        "SELECT alert, silenced_by, inhibited_by, receivers FROM fleet_alerts"
        " ORDER BY alert->>'starts_at', fingerprint"
    )
    return [
        AlertView(alert_from_dict(a), tuple(silenced), tuple(inhibited), tuple(receivers))
        for a, silenced, inhibited, receivers in await cur.fetchall()
    ]


# -- the outbox ----------------------------------------------------------------------------------


async def enqueue(
    conn: Conn, key: str, receiver: str, payload: Mapping[str, Any], now: datetime
) -> bool:
    """Queue one notification under a key that names what it is about: the same key twice
    (a new decider re-deciding) is queued once. A new one supersedes the receiver's undelivered
    ones about the same group (each tells the group's whole state: a firing one retried after
    the resolved one must not undo it). True if it was new."""
    cur = await conn.execute(
        "INSERT INTO outbox (key, receiver, payload, created_at, next_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
        [key, receiver, Jsonb(dict(payload)), now, now],
    )
    if cur.rowcount != 1:
        return False
    await conn.execute(
        "UPDATE outbox SET failed_at = %s, error = 'superseded by a newer notification'"
        " WHERE sent_at IS NULL AND failed_at IS NULL AND receiver = %s"
        " AND payload->>'group_key' = %s AND key <> %s",
        [now, receiver, payload.get("group_key"), key],
    )
    return True


async def claim(conn: Conn, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Due entries, locked for this transaction; those another sender holds are skipped."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, key, receiver, payload, attempts FROM outbox"
        " WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= %s"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        [now, limit],
    )
    return list(await cur.fetchall())


async def mark_sent(conn: Conn, entry: Mapping[str, Any], now: datetime, by: str) -> None:
    """Delivered: never sent again; logged."""
    await conn.execute(
        "UPDATE outbox SET sent_at = %s, attempts = attempts + 1 WHERE id = %s", [now, entry["id"]]
    )
    await conn.execute(
        "INSERT INTO notification_log (key, receiver, sent_at, sent_by) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        [entry["key"], entry["receiver"], now, by],
    )


async def mark_retry(
    conn: Conn, entry: Mapping[str, Any], at: datetime, error: str, final: bool
) -> None:
    """Not delivered: try again at `at`, or give up (`final`)."""
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_at = %s, error = %s,"
        " failed_at = CASE WHEN %s THEN now() ELSE NULL END WHERE id = %s",
        [at, error[:500], final, entry["id"]],
    )


async def prune(conn: Conn, outbox_before: datetime, history_before: datetime | None) -> int:
    """Forget delivered or abandoned notifications and notification log entries older than
    `outbox_before`, and, with a history retention, the fleet's history that ended before
    `history_before`."""
    cur = await conn.execute(
        "DELETE FROM outbox WHERE sent_at < %(t)s OR failed_at < %(t)s", {"t": outbox_before}
    )
    n = cur.rowcount
    cur = await conn.execute("DELETE FROM fleet_nflog WHERE at < %s", [outbox_before])
    n += cur.rowcount
    if history_before is None:
        return n
    for sql in (
        "DELETE FROM check_transitions WHERE at < %(t)s",
        "DELETE FROM outages WHERE ended_at < %(t)s",
        "DELETE FROM incidents WHERE ended_at < %(t)s",
        "DELETE FROM campaigns WHERE ended_at < %(t)s",
        "DELETE FROM announcements WHERE published_at < %(t)s",
        "DELETE FROM notification_log WHERE sent_at < %(t)s",
        "DELETE FROM silences WHERE ends_at < %(t)s",
    ):
        cur = await conn.execute(sql.encode(), {"t": history_before})
        n += cur.rowcount
    return n


# -- what every instance shows -------------------------------------------------------------------


async def list_services(conn: Conn) -> list[dict[str, Any]]:
    """Each service's fleet status with the per-vantage breakdown."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT service, status, verdict, changed_at, updated_at FROM fleet_status ORDER BY service"
    )
    out = []
    for r in await cur.fetchall():
        out.append(
            {
                "service": r["service"],
                "status": r["status"],
                "vantages": r["verdict"],
                "changed_at": iso(r["changed_at"]),
                "updated_at": iso(r["updated_at"]),
            }
        )
    return out


async def list_incidents(
    conn: Conn,
    status: str | None = None,
    service: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
    incident: str | None = None,
) -> list[dict[str, Any]]:
    """Fleet incidents as API data, newest first; `since` keeps those still open or ended
    after it (as the single instance's list does)."""
    cur = await conn.execute(
        "SELECT data FROM incidents WHERE (%(status)s::text IS NULL OR status = %(status)s)"
        " AND (%(service)s::text IS NULL OR service = %(service)s)"
        " AND (%(incident)s::text IS NULL OR id = %(incident)s)"
        " AND (%(since)s::timestamptz IS NULL OR ended_at IS NULL OR ended_at >= %(since)s"
        " OR started_at >= %(since)s) ORDER BY started_at DESC, id LIMIT %(limit)s",
        {
            "status": status,
            "service": service,
            "incident": incident,
            "since": since,
            "limit": limit,
        },
    )
    return [r[0] for r in await cur.fetchall()]


async def list_campaigns(
    conn: Conn, status: str | None = None, since: datetime | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Fleet campaigns as API data, newest first."""
    cur = await conn.execute(
        "SELECT data FROM campaigns WHERE (%(status)s::text IS NULL OR status = %(status)s)"
        " AND (%(since)s::timestamptz IS NULL OR ended_at IS NULL OR ended_at >= %(since)s)"
        " ORDER BY started_at DESC, id LIMIT %(limit)s",
        {"status": status, "since": since, "limit": limit},
    )
    return [r[0] for r in await cur.fetchall()]


async def list_announcements(
    conn: Conn,
    since: datetime | None = None,
    limit: int = 100,
    source: str | None = None,
    kind: str | None = None,
    service: str | None = None,
    keys: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Notices recorded by any instance, newest first, as /api/v1/announcements rows; `keys`
    (`<source>/<id>`) picks an incident's. The fleet keeps no edit history: `edits` is None."""
    pairs = [k.rpartition("/") for k in keys or ()]
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT source, id, published_at, kind, text, url, deleted, data FROM announcements"
        " WHERE (%(since)s::timestamptz IS NULL OR published_at >= %(since)s)"
        " AND (%(source)s::text IS NULL OR source = %(source)s)"
        " AND (%(kind)s::text IS NULL OR kind = %(kind)s)"
        " AND (%(service)s::text IS NULL OR data->'services' @> to_jsonb(%(service)s::text))"
        " AND (NOT %(by_key)s OR (source, id) IN"
        " (SELECT * FROM unnest(%(sources)s::text[], %(ids)s::text[])))"
        " ORDER BY published_at DESC, source, id LIMIT %(limit)s",
        {
            "since": since,
            "source": source or None,
            "kind": kind or None,
            "service": service or None,
            "by_key": keys is not None,
            "sources": [p[0] for p in pairs],
            "ids": [p[2] for p in pairs],
            "limit": max(0, limit),
        },
    )
    return [_announcement_dict(r) for r in await cur.fetchall()]


def _announcement_dict(r: Mapping[str, Any]) -> dict[str, Any]:
    data = r["data"] if isinstance(r["data"], dict) else {}
    return {
        "key": f"{r['source']}/{r['id']}",
        "source": r["source"],
        "id": r["id"],
        "published_at": iso(r["published_at"]),
        "edited_at": data.get("edited_at"),
        "deleted": bool(r["deleted"]),
        "text": r["text"],
        "url": r["url"],
        "kind": r["kind"],
        "services": list(data.get("services") or []),
        "confidence": data.get("confidence"),
        "evidence": list(data.get("evidence") or []),
        "claims": [claim_dict(c) for c in _classification(r["kind"], data).claims_or_kind()],
        "edits": None,
    }


def _classification(kind: str, data: Mapping[str, Any]) -> Classification:
    claims = data.get("claims")
    return Classification(
        next((k for k in ANNOUNCEMENT_KINDS if k == kind), "other"),  # as its recorder wrote it
        tuple(str(s) for s in data.get("services") or ()),
        float(data.get("confidence") or 0.0),
        tuple(str(e) for e in data.get("evidence") or ()),
        tuple(
            c
            for d in (claims if isinstance(claims, list) else ())
            if isinstance(d, dict) and (c := claim_from(d)) is not None
        ),
    )


def classification_of(row: Mapping[str, Any]) -> Classification:
    """An announcements row's classification, claims included (rows from before claims were
    published have none: their kind then stands for a claim about each named service)."""
    data = row["data"] if isinstance(row["data"], dict) else {}
    return _classification(str(row["kind"]), data)


READS: dict[str, Callable[..., Coroutine[Any, Any, list[dict[str, Any]]]]] = {
    "services": list_services,
    "incidents": list_incidents,
    "campaigns": list_campaigns,
    "announcements": list_announcements,
}
"""The fleet's views by name, as the API (runtime/fleet.py) and the commands read them."""
