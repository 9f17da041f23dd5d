"""The Telegram source, offline: Telethon's own types through its own dispatch and iter_messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions, types

from monitor.config import Telegram
from monitor.core.base import Classification, Message
from monitor.sources.base import recording_sink
from monitor.sources.telegram import TelegramSource, channel_key
from monitor.store.announcements import AnnouncementStore, Change
from monitor.store.channels import ChannelStore
from monitor.store.db import Store
from tests.monitor.sources.fake_telegram import T0, World, channel, post

DSSZZI, SPAM, MOD = 1001, 2002, 3003


def classify(message: Message) -> Classification:
    text = message.text
    if "відновл" in text.lower():
        return Classification("restored", ("mod",))
    if "ddos" in text.lower():
        return Classification("attack", ("mod",))
    return Classification("other")


@dataclass
class Rig:
    world: World
    ann: AnnouncementStore
    channels: ChannelStore
    source: TelegramSource
    changes: list[Change] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.source.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    @property
    def client(self) -> Any:
        return self.world.clients[-1]

    def seen(self) -> list[tuple[str, str, str]]:
        return [
            (c.kind, c.announcement.message.source, c.announcement.message.id) for c in self.changes
        ]


async def until(cond: Callable[[], bool]) -> None:
    """Wait for a condition the source reaches on its own task (polled: it has no event to set)."""
    async with asyncio.timeout(5):
        while not cond():
            await asyncio.sleep(0.005)


async def until_cursor(ann: ChannelStore, source: str, last_id: int) -> None:
    async with asyncio.timeout(5):
        while await ann.last_seen_id(source) != last_id:
            await asyncio.sleep(0.005)


def make_world() -> World:
    world = World()
    world.add(
        channel(DSSZZI, "dsszzi", "Держспецзв'язку"),
        post(DSSZZI, 1, "Фіксуємо DDoS-атаку на сайт Міноборони"),
        post(DSSZZI, 2, "Атака триває"),
    )
    world.add(channel(SPAM, "spam_chan", "Not official"), post(SPAM, 1, "DDoS everywhere!"))
    world.add(channel(MOD, "mod_ua", "Міноборони"))
    return world


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    store = Store(str(tmp_path / "a.db"))
    ann = AnnouncementStore(store)
    await ann.ensure_schema()
    channels = ChannelStore(store)
    await channels.ensure_schema()
    rigs: list[Rig] = []

    async def make(world: World | None = None, **cfg: Any) -> Rig:
        world = world or make_world()
        settings = {
            "api_id": 1,
            "api_hash": "x",
            "session": str(tmp_path / "s.session"),
            "channels": ["dsszzi", "@Mod_UA"],
            "backfill_interval": 3600,
            **cfg,
        }
        rig = Rig(world, ann, channels, None)  # type: ignore[arg-type]

        async def on_change(change: Change) -> None:
            rig.changes.append(change)

        async def sleep(seconds: float) -> None:
            rig.slept.append(seconds)
            await asyncio.sleep(0)

        rig.source = TelegramSource(
            Telegram.model_validate(settings),
            recording_sink(ann, classify, on_change),
            channels,
            client_factory=world.client,
            sleep=sleep,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        if rig.task and not rig.task.done():
            rig.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await rig.task
    store.close()


async def test_backfill_live_and_restart_with_a_gap(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    await until_cursor(rig.channels, "dsszzi", 2)
    assert rig.source.health.connected
    assert [h.name for h in rig.source.healths()] == ["telegram", "dsszzi", "mod_ua"]
    first = rig.changes[0].announcement
    assert first.message.url == "https://t.me/dsszzi/1"
    assert first.message.published_at == T0.replace(minute=1)
    assert first.kind == "attack"

    # live: message 3 arrives through Telethon's dispatch (and Telegram keeps it in history)
    three = post(DSSZZI, 3, "Ще одна DDoS-хвиля")
    rig.world.history[DSSZZI].append(three)
    await rig.client.push(types.UpdateNewChannelMessage(message=three, pts=3, pts_count=1))
    assert rig.seen()[-1] == ("new", "dsszzi", "3")

    # the connection drops; 4 and 5 are posted while we are away
    rig.world.history[DSSZZI] += [post(DSSZZI, 4, "DDoS"), post(DSSZZI, 5, "Роботу відновлено")]
    rig.client.drop()
    await until(lambda: len(rig.changes) == 5)
    await until_cursor(rig.channels, "dsszzi", 5)
    await until(lambda: rig.source.health.connected)
    assert rig.seen() == [("new", "dsszzi", str(i)) for i in range(1, 6)]
    assert rig.source.health.reconnects == 1
    assert await rig.channels.last_seen_id("dsszzi") == 5
    assert len(rig.world.clients) == 2

    # a restart of the whole daemon: nothing is double-counted
    await rig.stop()
    again = await make_rig(rig.world)
    again.start()
    await until(lambda: again.source.health.connected)
    await asyncio.sleep(0.05)
    assert again.changes == []
    history = [
        r
        for r in again.world.requests
        if isinstance(r, functions.messages.GetHistoryRequest) and r.peer.channel_id == DSSZZI
    ]
    assert history[-1].offset_id == 6  # reverse from min_id=5: Telethon asks from 5 + 1


async def test_edit_to_restored_and_deletion(make_rig: Callable[..., Awaitable[Rig]]) -> None:
    rig = await make_rig()
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    edited = post(DSSZZI, 1, "Роботу сайту Міноборони відновлено", edit_date=T0.replace(hour=18))
    await rig.client.push(types.UpdateEditChannelMessage(message=edited, pts=4, pts_count=1))
    change = rig.changes[-1]
    assert change.kind == "edited"
    assert change.previous is not None and change.previous.kind == "attack"
    assert change.announcement.kind == "restored"
    assert await rig.ann.history("dsszzi", "1") == ["Фіксуємо DDoS-атаку на сайт Міноборони"]

    await rig.client.push(
        types.UpdateDeleteChannelMessages(channel_id=DSSZZI, messages=[2], pts=5, pts_count=1)
    )
    assert rig.seen()[-1] == ("deleted", "dsszzi", "2")
    stored = await rig.ann.get("dsszzi", "2")
    assert stored is not None and stored.message.deleted and stored.message.text == "Атака триває"


async def test_unconfigured_channel_is_ignored(make_rig: Callable[..., Awaitable[Rig]]) -> None:
    rig = await make_rig()
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    spam = post(SPAM, 9, "DDoS! Official! Trust me")
    await rig.client.push(types.UpdateNewChannelMessage(message=spam, pts=1, pts_count=1))
    await rig.client.push(types.UpdateEditChannelMessage(message=spam, pts=2, pts_count=1))
    await rig.client.push(
        types.UpdateDeleteChannelMessages(channel_id=SPAM, messages=[9], pts=3, pts_count=1)
    )
    assert len(rig.changes) == 2
    assert all(r["source"] != "spam_chan" for r in await rig.ann.list())


async def test_renamed_channel_is_flagged_and_squatter_ignored(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    await rig.stop()
    pinned = await rig.channels.pin("dsszzi")
    assert pinned is not None and pinned.channel_id == DSSZZI

    # the official channel changes its username; someone else registers the old one
    world = rig.world
    world.channels[DSSZZI] = channel(DSSZZI, "dsszzi_archive", "Держспецзв'язку (архів)")
    world.usernames.pop("dsszzi")
    world.add(channel(6666, "dsszzi", "Держспецзв'язку", access_hash=99))
    before = len(world.requests)
    again = await make_rig(world)
    again.start()
    await until(lambda: again.source.health.connected)
    health = {h.name: h for h in again.source.healths()}
    assert health["dsszzi"].renamed
    assert "@dsszzi -> @dsszzi_archive" in health["dsszzi"].detail
    assert not health["mod_ua"].renamed
    # the squatter posts; it is not the pinned channel, so it is not a source
    fake = post(6666, 1, "Всі сервіси відновлено, атаки не було")
    await again.client.push(types.UpdateNewChannelMessage(message=fake, pts=1, pts_count=1))
    # the real channel posts: links use its current username
    real = post(DSSZZI, 3, "DDoS триває")
    await again.client.push(types.UpdateNewChannelMessage(message=real, pts=2, pts_count=1))
    assert again.seen() == [("new", "dsszzi", "3")]
    assert again.changes[0].announcement.message.url == "https://t.me/dsszzi_archive/3"
    assert not any(
        isinstance(r, functions.contacts.ResolveUsernameRequest) and r.username == "dsszzi"
        for r in world.requests[before:]
    )
    assert (await again.channels.pin("dsszzi")) == pinned


async def test_flood_waits_are_slept_through_and_counted(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    world = make_world()
    world.floods = [
        (functions.contacts.ResolveUsernameRequest, 2),
        (functions.messages.GetHistoryRequest, 3),
    ]
    rig = await make_rig(world)
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    assert rig.source.health.flood_waits == 2
    assert rig.source.health.flood_wait_seconds == 5
    assert rig.slept == [2.0, 3.0]
    assert rig.source.health.connected


async def test_unauthorised_session_is_a_clear_error_not_a_hang(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    world = make_world()
    world.authorized = False
    rig = await make_rig(world)
    rig.start()
    await until(lambda: len(rig.slept) >= 2)
    health = rig.source.health
    assert not health.connected
    assert "is not logged in: run `outwatch telegram login -c CONFIG`" in health.detail
    assert health.errors >= 2
    assert rig.slept[0] == 300.0  # waits long, then checks the session again
    assert rig.changes == []


async def test_missing_session_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "a.db"))
    ann = AnnouncementStore(store)
    await ann.ensure_schema()
    channels = ChannelStore(store)
    await channels.ensure_schema()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    cfg = Telegram(api_id=1, api_hash="x", session=str(tmp_path / "none.session"), channels=["x"])  # type: ignore[arg-type]
    source = TelegramSource(cfg, recording_sink(ann, classify), channels, sleep=sleep)
    task = asyncio.create_task(source.run())
    await until(lambda: bool(slept))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "none.session does not exist: run `outwatch telegram login" in source.health.detail
    assert not (tmp_path / "none.session").exists()  # never created by the daemon
    store.close()


async def test_numeric_channel_and_hostile_posts(make_rig: Callable[..., Awaitable[Rig]]) -> None:
    world = make_world()
    world.add(
        channel(MOD, "mod_ua", "Міноборони"),
        post(MOD, 1, ""),  # media only
        types.MessageService(
            id=2, peer_id=types.PeerChannel(MOD), date=T0, action=types.MessageActionPinMessage()
        ),
        post(MOD, 3, "x" * 1_000_000),
        post(MOD, 4, "\x00\x1b[2J<script>alert(1)</script>\u202e[a](javascript:1)"),
    )
    rig = await make_rig(world, channels=[-1000000003003])
    rig.start()
    await until(lambda: len(rig.changes) == 3)
    assert [h.name for h in rig.source.healths()] == ["telegram", "id3003"]
    texts = {c.announcement.message.id: c.announcement.message.text for c in rig.changes}
    assert texts["1"] == ""
    assert len(texts["3"]) == 64 * 1024
    assert texts["4"] == "[2J<script>alert(1)</script>\u202e[a](javascript:1)"
    assert rig.changes[0].announcement.message.url == "https://t.me/mod_ua/1"


async def test_periodic_backfill(make_rig: Callable[..., Awaitable[Rig]]) -> None:
    rig = await make_rig(backfill_interval=0.05)
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    rig.world.history[DSSZZI].append(post(DSSZZI, 3, "missed by the update stream"))
    await until(lambda: len(rig.changes) == 3)
    assert rig.source.health.reconnects == 0


async def test_bad_channel_does_not_stop_the_others(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig(channels=["no_such_channel", "dsszzi"])
    rig.start()
    await until(lambda: len(rig.changes) == 2)
    health = {h.name: h for h in rig.source.healths()}
    assert health["no_such_channel"].errors == 1
    assert "UsernameNotOccupiedError" in health["no_such_channel"].detail
    assert not health["no_such_channel"].connected
    assert health["dsszzi"].connected


@pytest.mark.parametrize(
    ("configured", "key"),
    [
        ("dsszzi", "dsszzi"),
        ("@DSSZZI", "dsszzi"),
        ("https://t.me/dsszzi", "dsszzi"),
        (1234, "id1234"),
        (-1001234, "id1234"),
        ("-1001234", "id1234"),
    ],
)
def test_channel_key(configured: str | int, key: str) -> None:
    assert channel_key(configured) == key


async def test_dates_out_of_range_become_receipt_time(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14)))
    world = make_world()
    first = post(MOD, 1, "DDoS year 1")
    first.date = datetime(1, 1, 1, tzinfo=UTC)
    last = post(MOD, 2, "DDoS year 9999", edit_date=far)
    last.date = far
    world.add(channel(MOD, "mod_ua", "Міноборони"), first, last, post(MOD, 3, "DDoS on time"))
    rig = await make_rig(world, channels=["mod_ua"])
    before = datetime.now(UTC)
    rig.start()
    await until(lambda: len(rig.changes) == 3)
    got = {c.announcement.message.id: c.announcement.message for c in rig.changes}
    for id_ in ("1", "2"):
        assert before <= got[id_].published_at <= datetime.now(UTC)
    assert got["2"].edited_at is not None and got["2"].edited_at <= datetime.now(UTC)
    assert got["3"].published_at == T0 + timedelta(minutes=3)
    [health] = [h for h in rig.source.healths() if h.name == "mod_ua"]
    assert health.clamped_times == 3
    stored = await rig.ann.load(datetime(1970, 1, 1, tzinfo=UTC))
    assert all(a.message.published_at.year < 9000 for a in stored)


async def test_backfill_cursor_holds_at_a_message_that_failed_to_record(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    world = make_world()
    world.history[DSSZZI].append(post(DSSZZI, 3, "DDoS триває"))
    rig = await make_rig(world)
    record, failed = rig.source.sink, []

    async def flaky(message: Any) -> None:
        if message.source == "dsszzi" and message.id == "2" and not failed:
            failed.append(message.id)
            raise RuntimeError("database is locked")
        await record(message)

    rig.source.sink = flaky
    rig.start()
    await until(lambda: bool(failed) and rig.source.health.connected)
    await until(lambda: len(rig.changes) == 1)
    assert await rig.channels.last_seen_id("dsszzi") == 1  # held before message 2
    await rig.source.backfill(rig.client)  # the next backfill reads 2 and 3
    assert rig.seen() == [("new", "dsszzi", "1"), ("new", "dsszzi", "2"), ("new", "dsszzi", "3")]
    assert await rig.channels.last_seen_id("dsszzi") == 3


async def test_reconnect_applies_edits_and_deletions_made_while_away(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    rig.start()
    await until_cursor(rig.channels, "dsszzi", 2)
    await rig.stop()
    # while the daemon is down: post 1 is edited, post 2 deleted (Telegram sends no update
    # to a client that is not connected)
    edited = post(DSSZZI, 1, "Роботу сайту Міноборони відновлено", edit_date=T0.replace(hour=18))
    rig.world.history[DSSZZI] = [edited]
    again = await make_rig(rig.world, recheck_window=10**9)
    again.start()
    await until(lambda: len(again.changes) == 2)
    assert again.seen() == [("edited", "dsszzi", "1"), ("deleted", "dsszzi", "2")]
    assert again.changes[0].announcement.kind == "restored"
    stored = await again.ann.get("dsszzi", "2")
    assert stored is not None and stored.message.deleted
    # the default window (24 h) reaches none of these 2022 posts: nothing is judged deleted
    third = await make_rig(rig.world)
    rig.world.history[DSSZZI] = []
    third.start()
    await until(lambda: third.source.health.connected)
    await asyncio.sleep(0.05)
    assert third.changes == []
