"""Notices in the fleet's PostgreSQL: recorded once, read back by every instance with claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.core.base import Announcement, Claim, Classification, Message
from monitor.store import fleet as q
from monitor.store import pg

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _ann(mid: str, text: str, at: datetime, c: Classification) -> Announcement:
    return Announcement(Message("bank_official", mid, at, text, f"https://t.me/b/{mid}"), c)


async def test_notices_read_back_by_key_and_filter_with_their_claims(pg_dsn: str) -> None:
    planned = Classification(
        "advisory",
        ("bank",),
        0.8,
        ("planned: works",),
        (Claim("bank", "outage", "asserted", "planned", ("planned: works",)),),
    )
    attack = Classification("attack", ("bank", "gov"), 0.9, ("attack: DDoS",))  # no claims
    rows = [
        q.announcement_row(_ann("1", "works tonight", T0, planned), "kyiv-0", T0),
        q.announcement_row(_ann("2", "DDoS", T0 + timedelta(hours=1), attack), "lviv-0", T0),
    ]
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        assert await q.put_announcements(conn, rows) == 2
        assert await q.put_announcements(conn, rows) == 0  # recorded once across the fleet
        newest = await q.list_announcements(conn)
        assert [r["key"] for r in newest] == ["bank_official/2", "bank_official/1"]
        first = newest[1]
        assert first["text"] == "works tonight" and first["url"] == "https://t.me/b/1"
        assert first["published_at"] == T0.isoformat() and first["edits"] is None
        # the recorder's claims, not its kind: a planned outage is no live claim
        assert [(c["kind"], c["time"]) for c in first["claims"]] == [("outage", "planned")]
        # a row without claims reads its kind as a claim about each service, as locally
        assert [c["service"] for c in newest[0]["claims"]] == ["bank", "gov"]
        by_key = await q.list_announcements(conn, keys=["bank_official/1", "other/9"])
        assert [r["key"] for r in by_key] == ["bank_official/1"]
        assert await q.list_announcements(conn, keys=[]) == []
        assert [r["id"] for r in await q.list_announcements(conn, service="gov")] == ["2"]
        assert [r["id"] for r in await q.list_announcements(conn, kind="advisory")] == ["1"]
        later = await q.list_announcements(conn, since=T0 + timedelta(minutes=1))
        assert [r["id"] for r in later] == ["2"]
        assert await q.list_announcements(conn, source="nobody") == []
        assert len(await q.list_announcements(conn, limit=1)) == 1
        # the decider's view of a row: the same classification, claims included
        (_, raw), _ = await q.new_announcements(conn, 0)
        assert q.classification_of(raw) == planned
