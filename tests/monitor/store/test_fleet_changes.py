"""The fleet's incidents and campaigns in PostgreSQL: a round's changes leave each row as the
last of them says (a wave updates its campaign once per joining incident)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.core.incidents import Campaign, Change, Incident
from monitor.store import fleet as q
from monitor.store import pg

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_each_incident_and_campaign_ends_as_the_last_change_says(pg_dsn: str) -> None:
    bank = Incident("INC-20260301-001", "bank", "bank", T0)
    gov = Incident("INC-20260301-002", "gov", "gov", T0)
    mail = Incident("INC-20260301-003", "mail", "mail", T0)
    wave = Campaign("CMP-20260301-01", T0, ("bank", "gov"), (bank.id, gov.id))
    grown = Campaign("CMP-20260301-01", T0, ("bank", "gov", "mail"), (bank.id, gov.id, mail.id))
    ended = Incident(bank.id, "bank", "bank", T0, "resolved", T0 + timedelta(minutes=5))
    changes = [
        Change("incident_opened", T0, incident=bank),
        Change("incident_opened", T0, incident=gov),
        Change("campaign_opened", T0, campaign=wave),
        Change("incident_opened", T0, incident=mail),
        Change("campaign_updated", T0, incident=mail, campaign=grown),
        Change("incident_withdrawn", T0, incident=gov),
        Change("incident_resolved", T0, incident=ended),
    ]
    async with await pg.connect(pg_dsn, "a") as conn:
        await pg.migrate(conn)
        await q.apply_changes(conn, changes)
        rows = await q.list_incidents(conn)
        assert {r["id"]: r["status"] for r in rows} == {bank.id: "resolved", mail.id: "open"}
        (campaign,) = await q.list_campaigns(conn)
        assert campaign["services"] == ["bank", "gov", "mail"]
        await q.apply_changes(conn, [Change("campaign_withdrawn", T0, campaign=grown)])
        assert await q.list_campaigns(conn) == []
        await q.apply_changes(conn, [])  # a round without changes writes nothing
