"""Announcement persistence: messages, their edit history and deletions."""

from __future__ import annotations

import builtins
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils

from monitor.core.base import (
    Announcement,
    Claim,
    Classification,
    Clock,
    Message,
    SystemClock,
    claim_dict,
    claim_from,
)
from monitor.core.codec import dt, iso, utc
from monitor.core.text import clean_text
from monitor.store import schema
from monitor.store.db import Store

log = logging.getLogger("outwatch.announcements")

ChangeKind = Literal["new", "edited", "deleted", "unchanged"]


@dataclass(frozen=True)
class Change:
    """What recording a message did: the stored announcement now, and before an edit or deletion."""

    kind: ChangeKind
    announcement: Announcement
    previous: Announcement | None = None


def _row_announcement(row: dict[str, Any]) -> Announcement:
    message = Message(
        source=row["source"],
        id=row["id"],
        published_at=dt(row["published_at"]) or datetime.min.replace(tzinfo=UTC),
        text=row["text"],
        url=row["url"],
        edited_at=dt(row["edited_at"]),
        deleted=bool(row["deleted"]),
    )
    classification = Classification(
        kind=row["kind"],
        services=tuple(json.loads(row["services"] or "[]")),
        confidence=row["confidence"] or 0.0,
        evidence=tuple(json.loads(row["evidence"] or "[]")),
        claims=claims_of(row.get("claims")),
    )
    return Announcement(message, classification)


def claims_of(stored: str | None) -> tuple[Claim, ...]:
    """Claims from their stored JSON (rows from before claims have none)."""
    try:
        rows = json.loads(stored or "[]")
    except ValueError:
        return ()
    if not isinstance(rows, list):
        return ()
    return tuple(c for r in rows if isinstance(r, dict) and (c := claim_from(r)) is not None)


def _get(db: sqlite_utils.Database, source: str, id_: str) -> dict[str, Any] | None:
    return next(
        db.query("SELECT * FROM announcements WHERE source = ? AND id = ?", [source, id_]), None
    )


def record_sync(
    db: sqlite_utils.Database, message: Message, classification: Classification, now: datetime
) -> Change:
    """Record one message; idempotent on (source, id); edits keep history, deletions mark."""
    message = replace(message, text=clean_text(message.text))
    row = _get(db, message.source, message.id)
    stamp = iso(now)
    if row is None:
        return _insert(db, message, classification, stamp)
    before = _row_announcement(row)
    if row["deleted"]:
        return Change("unchanged", before)  # a deletion is final: re-imports never resurrect
    table = db.table("announcements")
    if message.deleted:
        table.update(
            (message.source, message.id), {"deleted": 1, "deleted_at": stamp, "updated_at": stamp}
        )
        after = Announcement(replace(before.message, deleted=True), before.classification)
        return Change("deleted", after, before)
    # when each version was written; an older version (a stale export) never overwrites a newer
    incoming = utc(message.edited_at or message.published_at)
    stored = utc(datetime.fromisoformat(row["edited_at"] or row["published_at"]))
    if message.text == row["text"] or incoming < stored:
        return Change("unchanged", before)
    db.table("announcement_edits").insert(
        {
            "source": row["source"],
            "id": row["id"],
            "version": row["version"],
            "text": row["text"],
            "edited_at": row["edited_at"],
            "kind": row["kind"],
            "services": row["services"],
            "claims": row.get("claims"),
            "recorded_at": stamp,
        },
        replace=True,
    )
    table.update(
        (message.source, message.id),
        {
            **_classified(classification),
            "text": message.text,
            "edited_at": iso(message.edited_at or now),
            "url": message.url or row["url"],
            "version": row["version"] + 1,
            "updated_at": stamp,
        },
    )
    after = Announcement(
        replace(message, edited_at=message.edited_at or now, url=message.url or row["url"]),
        classification,
    )
    return Change("edited", after, before)


def _classified(c: Classification) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "services": json.dumps(list(c.services), ensure_ascii=False),
        "confidence": float(c.confidence),
        "evidence": json.dumps(list(c.evidence), ensure_ascii=False),
        "claims": json.dumps([claim_dict(x) for x in c.claims], ensure_ascii=False),
    }


def _insert(
    db: sqlite_utils.Database, message: Message, classification: Classification, stamp: str | None
) -> Change:
    if message.deleted:
        # a deletion of a message never seen: keep a tombstone so a later import cannot add it
        classification = Classification("other")
        message = replace(message, text="")
    db.table("announcements").insert(
        {
            "source": message.source,
            "id": message.id,
            "published_at": iso(message.published_at),
            "edited_at": iso(message.edited_at),
            "text": message.text,
            "url": message.url,
            "deleted": int(message.deleted),
            "deleted_at": stamp if message.deleted else None,
            **_classified(classification),
            "version": 1,
            "first_seen": stamp,
            "updated_at": stamp,
        }
    )
    kind: ChangeKind = "unchanged" if message.deleted else "new"
    return Change(kind, Announcement(message, classification))


class AnnouncementStore:
    """Announcements, through the one store writer."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    async def ensure_schema(self) -> None:
        """Create the tables if they are missing."""
        await self.store.run(schema.create_all)

    async def record(self, message: Message, classification: Classification) -> Change:
        """Record a new, edited or deleted message; says what changed."""
        now = self.clock.now()
        return await self.store.run(lambda db: record_sync(db, message, classification, now))

    async def record_many(self, items: list[tuple[Message, Classification]]) -> list[Change]:
        """Record many messages in one transaction (imports)."""
        now = self.clock.now()
        return await self.store.run(lambda db: [record_sync(db, m, c, now) for m, c in items])

    async def get(self, source: str, id_: str) -> Announcement | None:
        """One stored announcement."""
        row = await self.store.run(lambda db: _get(db, source, id_))
        return _row_announcement(row) if row else None

    async def history(self, source: str, id_: str) -> list[str]:
        """Earlier texts of a message, oldest first."""
        rows = await self.store.run(
            lambda db: list(
                db.query(
                    "SELECT text FROM announcement_edits WHERE source = ? AND id = ? ORDER BY version",
                    [source, id_],
                )
            )
        )
        return [r["text"] for r in rows]

    async def list(
        self,
        since: datetime | None = None,
        limit: int = 100,
        source: str | None = None,
        kind: str | None = None,
        service: str | None = None,
    ) -> list[dict[str, Any]]:
        """Announcements for the API, newest first."""
        return await self.store.run(lambda db: list_sync(db, since, limit, source, kind, service))

    async def load(self, since: datetime | None = None) -> builtins.list[Announcement]:
        """Live (not deleted) announcements published since `since`, oldest first (for correlation)."""
        where, args = "WHERE deleted = 0", []
        if since is not None:
            where += " AND published_at >= ?"
            args.append(iso(since))
        rows = await self.store.run(
            lambda db: list(
                db.query(f"SELECT * FROM announcements {where} ORDER BY published_at", args)
            )
        )
        return [_row_announcement(r) for r in rows]


def list_sync(
    db: sqlite_utils.Database,
    since: datetime | None,
    limit: int,
    source: str | None,
    kind: str | None,
    service: str | None,
) -> list[dict[str, Any]]:
    """Rows for /api/v1/announcements, newest first."""
    clauses, args = [], []
    if since is not None:
        clauses.append("a.published_at >= ?")
        args.append(iso(since))
    if source:
        clauses.append("a.source = ?")
        args.append(source)
    if kind:
        clauses.append("a.kind = ?")
        args.append(kind)
    if service:
        clauses.append("EXISTS (SELECT 1 FROM json_each(a.services) WHERE value = ?)")
        args.append(service)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.query(
        f"SELECT a.*, (SELECT COUNT(*) FROM announcement_edits e "
        f"WHERE e.source = a.source AND e.id = a.id) AS edits "
        f"FROM announcements a {where} "
        "ORDER BY a.published_at DESC, a.source, a.id LIMIT ?",
        [*args, max(0, limit)],
    )
    return [
        {
            "key": f"{r['source']}/{r['id']}",
            "source": r["source"],
            "id": r["id"],
            "published_at": r["published_at"],
            "edited_at": r["edited_at"],
            "deleted": bool(r["deleted"]),
            "text": r["text"],
            "url": r["url"],
            "kind": r["kind"],
            "services": json.loads(r["services"] or "[]"),
            "confidence": r["confidence"],
            "evidence": json.loads(r["evidence"] or "[]"),
            "claims": [claim_dict(c) for c in claims_of(r.get("claims"))],
            "edits": r["edits"],
        }
        for r in rows
    ]
