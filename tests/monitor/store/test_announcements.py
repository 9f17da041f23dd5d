"""Announcement persistence: idempotent records, edit history, deletions, pins, cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.core.base import Classification, FakeClock, Message
from monitor.store.announcements import AnnouncementStore
from monitor.store.db import Store

T0 = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)
ATTACK = Classification("attack", ("privatbank",), 0.9, ("DDoS",))
RESTORED = Classification("restored", ("privatbank",), 0.8, ("відновлено",))
OTHER = Classification("other")


def msg(id_: str = "1", text: str = "DDoS на ПриватБанк", **kw: object) -> Message:
    fields: dict[str, object] = {"published_at": T0, **kw}
    return Message(source="dsszzi", id=id_, text=text, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def ann(tmp_path: Path) -> AsyncIterator[AnnouncementStore]:
    store = Store(str(tmp_path / "a.db"))
    a = AnnouncementStore(store, FakeClock(T0 + timedelta(hours=1)))
    await a.ensure_schema()
    await a.ensure_schema()  # idempotent
    yield a
    store.close()


async def test_new_then_unchanged(ann: AnnouncementStore) -> None:
    assert (await ann.record(msg(), ATTACK)).kind == "new"
    assert (await ann.record(msg(), ATTACK)).kind == "unchanged"
    rows = await ann.list()
    assert len(rows) == 1
    assert rows[0]["key"] == "dsszzi/1"
    assert rows[0]["services"] == ["privatbank"]


async def test_edit_keeps_history_and_reclassifies(ann: AnnouncementStore) -> None:
    await ann.record(msg(), ATTACK)
    edited = msg(text="Роботу відновлено", edited_at=T0 + timedelta(minutes=30))
    change = await ann.record(edited, RESTORED)
    assert change.kind == "edited"
    assert change.previous is not None and change.previous.kind == "attack"
    assert change.announcement.kind == "restored"
    assert await ann.history("dsszzi", "1") == ["DDoS на ПриватБанк"]
    # the same edit again (backfill after a live edit) and the stale original (re-import)
    assert (await ann.record(edited, RESTORED)).kind == "unchanged"
    assert (await ann.record(msg(), ATTACK)).kind == "unchanged"
    stored = await ann.get("dsszzi", "1")
    assert stored is not None and stored.message.text == "Роботу відновлено"
    assert (await ann.list())[0]["edits"] == 1


async def test_deletion_marks_and_is_final(ann: AnnouncementStore) -> None:
    await ann.record(msg(), ATTACK)
    change = await ann.record(msg(text="", deleted=True), OTHER)
    assert change.kind == "deleted"
    assert change.announcement.message.text == "DDoS на ПриватБанк"  # kept, only marked
    assert change.announcement.kind == "attack"
    assert (await ann.record(msg(), ATTACK)).kind == "unchanged"  # never resurrected
    rows = await ann.list()
    assert rows[0]["deleted"] is True
    assert await ann.load() == []


async def test_deletion_of_unseen_message_leaves_tombstone(ann: AnnouncementStore) -> None:
    assert (await ann.record(msg("9", "", deleted=True), OTHER)).kind == "unchanged"
    assert (await ann.record(msg("9", "secret"), ATTACK)).kind == "unchanged"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("source", "dsszzi", 2),
        ("source", "nope", 0),
        ("kind", "attack", 1),
        ("kind", "restored", 1),
        ("service", "privatbank", 2),
        ("service", "mod", 0),  # its only notice was deleted
        ("service", "zsu", 0),
    ],
)
async def test_list_filters(ann: AnnouncementStore, field: str, value: str, expected: int) -> None:
    await ann.record(msg("1"), ATTACK)
    await ann.record(msg("2", "сайт МО", published_at=T0 + timedelta(hours=1)), RESTORED)
    await ann.record(msg("3", "x"), Classification("restored", ("mod",)))
    await ann.record(msg("3", "", deleted=True), OTHER)
    rows = await ann.list(**{field: value})  # type: ignore[arg-type]
    live = [r for r in rows if not r["deleted"]]
    assert len(live) == expected


async def test_list_since_and_limit(ann: AnnouncementStore) -> None:
    for i in range(5):
        await ann.record(msg(str(i), published_at=T0 + timedelta(minutes=i)), ATTACK)
    rows = await ann.list(since=T0 + timedelta(minutes=2), limit=2)
    assert [r["id"] for r in rows] == ["4", "3"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,
        "\x00\x01\x07bell\x1b[31mred\x7f",
        "\u202eevil\u200f rtl \u202c",
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
        "[click](javascript:alert(1)) **bold** `code`",
        "",
        "\ud800 lone surrogate",
        "'; DROP TABLE announcements; --",
    ],
)
async def test_hostile_text_is_stored_safely(ann: AnnouncementStore, text: str) -> None:
    change = await ann.record(msg("h", text), OTHER)
    assert change.kind == "new"
    stored = await ann.get("dsszzi", "h")
    assert stored is not None
    assert len(stored.message.text) <= 64 * 1024
    assert "\x00" not in stored.message.text and "\x1b" not in stored.message.text
    assert (await ann.record(msg("h", text), OTHER)).kind == "unchanged"
    assert len(await ann.list()) == 1


async def test_claims_are_stored_with_the_announcement_and_its_edits(
    ann: AnnouncementStore,
) -> None:
    from monitor.core.base import Claim

    said = Classification(
        "attack",
        ("privatbank", "oschadbank"),
        0.9,
        ("cyber: DDoS",),
        (
            Claim("privatbank", "restored", evidence=("restored: вже відновлено",)),
            Claim("oschadbank", "attack", "asserted", "now", ("cyber: DDoS",), "attack"),
            Claim("oschadbank", "restored", "asserted", "planned", ("planned: запрацюють",)),
        ),
    )
    await ann.record(msg(), said)
    stored = await ann.get("dsszzi", "1")
    assert stored is not None and stored.classification.claims == said.claims
    (row,) = await ann.list()
    assert row["claims"][2] == {
        "service": "oschadbank",
        "kind": "restored",
        "polarity": "asserted",
        "time": "planned",
        "cause": "unknown",
        "evidence": ["planned: запрацюють"],
    }
    denied = Classification(
        "other", ("privatbank",), 0.7, (), (Claim("privatbank", "attack", "denied"),)
    )
    await ann.record(msg(text="Це фейк", edited_at=T0 + timedelta(minutes=5)), denied)
    stored = await ann.get("dsszzi", "1")
    assert stored is not None and stored.claims == denied.claims


async def test_a_row_without_claims_reads_its_kind_as_claims(ann: AnnouncementStore) -> None:
    await ann.record(msg(), ATTACK)
    stored = await ann.get("dsszzi", "1")
    assert stored is not None
    assert [(c.service, c.kind, c.live) for c in stored.claims] == [("privatbank", "attack", True)]
