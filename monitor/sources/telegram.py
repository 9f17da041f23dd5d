"""Official Telegram channels through a user account (Telethon): live updates plus backfill."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from telethon import TelegramClient, errors, events, utils
from telethon.tl import functions, types

from monitor.config import Sources, Telegram
from monitor.core.base import Clock, Message, SystemClock
from monitor.core.text import clean_text
from monitor.core.timebounds import clamp
from monitor.sources.base import Sink, Source, SourceHealth
from monitor.store.channels import ChannelStore, Pin

log = logging.getLogger("outwatch.sources.telegram")

INITIAL_BACKFILL = 100  # messages read on a channel's very first start (no cursor yet)
STABLE_AFTER = 60.0  # a session this long resets the reconnect backoff


class NotAuthorised(Exception):
    """The session file is missing or not logged in; `outwatch telegram login` fixes it."""


def channel_key(value: str | int) -> str:
    """The source name of a configured channel: its username (lower case), or id<number>."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        if text.startswith("-100"):  # Bot API style "marked" channel id
            number = int(text[4:])
        return f"id{abs(number)}"
    for prefix in ("https://t.me/", "http://t.me/", "t.me/", "@"):
        text = text.removeprefix(prefix)
    return text.lower()


def client_for(cfg: Telegram) -> TelegramClient:
    """The real client for the daemon: every flood wait raised to us, so it is counted."""
    return TelegramClient(
        cfg.session,
        cfg.api_id,
        cfg.api_hash.get_secret_value(),
        flood_sleep_threshold=0,
        auto_reconnect=True,
    )


def to_message(key: str, username: str | None, msg: Any) -> Message | None:
    """A channel post as a Message; None for service messages and empties."""
    if not isinstance(msg, types.Message) or msg.date is None:
        return None
    return Message(
        source=key,
        id=str(msg.id),
        published_at=msg.date,
        text=clean_text(msg.message or ""),  # media-only posts have no text
        url=f"https://t.me/{username}/{msg.id}" if username else None,
        edited_at=msg.edit_date,
    )


@dataclass
class Channel:
    """One configured channel and what is known of it this session."""

    key: str
    configured: str | int
    health: SourceHealth
    pin: Pin | None = None
    username: str | None = None  # current username, for links

    @property
    def peer(self) -> types.InputPeerChannel | None:
        """The pinned identity to read from; never the username."""
        return (
            types.InputPeerChannel(self.pin.channel_id, self.pin.access_hash) if self.pin else None
        )


@dataclass
class _Session:
    client: TelegramClient
    handlers: list[tuple[Callable[..., Awaitable[None]], Any]] = field(default_factory=list)


class TelegramSource:
    """Watches the configured channels; the supervisor reconnects with exponential backoff."""

    def __init__(
        self,
        cfg: Telegram,
        sink: Sink,
        store: ChannelStore,
        client_factory: Callable[[], TelegramClient] | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_backoff: float = 300.0,
    ) -> None:
        self.cfg = cfg
        self.name = "telegram"
        self.health = SourceHealth("telegram", "telegram")
        self.sink = sink
        self.store = store
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.max_backoff = max_backoff
        self._factory = client_factory or self._default_client
        self.channels: dict[str, Channel] = {}
        for configured in cfg.channels:
            key = channel_key(configured)
            health = SourceHealth(key, "telegram", stale_after=cfg.stale_after)
            self.channels.setdefault(key, Channel(key, configured, health))
        self._by_peer: dict[int, Channel] = {}  # marked peer id -> channel

    def healths(self) -> list[SourceHealth]:
        """The account's health, then each channel's."""
        return [self.health, *(c.health for c in self.channels.values())]

    def _default_client(self) -> TelegramClient:
        path = Path(self.cfg.session)
        candidates = [path, path.with_name(path.name + ".session")]
        if not any(p.exists() for p in candidates):
            raise NotAuthorised(
                f"Telegram session {path} does not exist: run `outwatch telegram login -c CONFIG`"
            )
        return client_for(self.cfg)

    # -- supervision -------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, watch, and reconnect with backoff, until cancelled."""
        backoff = 1.0
        while True:
            started = self.clock.monotonic()
            delay = None
            try:
                await self._session()
                self._problem("disconnected from Telegram", count=False)
            except NotAuthorised as exc:
                self._problem(str(exc))
                delay = self.max_backoff
            except errors.FloodWaitError as exc:
                self._flood(exc.seconds, "connecting")
                delay = float(exc.seconds)
            except (OSError, errors.RPCError, ConnectionError, TimeoutError) as exc:
                self._problem(f"connection failed: {type(exc).__name__}: {exc}"[:300])
                log.debug("telegram: connection failed", exc_info=True)
            except Exception as exc:  # a bug or a surprise from the library: reconnect, don't die
                log.exception("telegram: unexpected error")
                self._problem(f"unexpected error: {type(exc).__name__}: {exc}"[:300])
            if self.clock.monotonic() - started > STABLE_AFTER:
                backoff = 1.0
            if delay is None:
                delay = backoff * random.uniform(0.8, 1.2)  # jitter: many instances, one Telegram
                backoff = min(backoff * 2, self.max_backoff)
            self.health.reconnects += 1
            await self.sleep(delay)

    async def _session(self) -> None:
        client = self._factory()
        session = _Session(client)
        try:
            await client.connect()
            if not await client.is_user_authorized():
                raise NotAuthorised(
                    f"Telegram session {self.cfg.session} is not logged in: "
                    "run `outwatch telegram login -c CONFIG`"
                )
            await self._resolve_all(client)
            self._listen(session)
            self._set_connected(True)
            log.info("telegram: connected, watching %d channels", len(self._by_peer))
            await self.recheck(client)
            while client.is_connected():
                await self.backfill(client)
                try:
                    await asyncio.wait_for(
                        asyncio.shield(client.disconnected), self.cfg.backfill_interval
                    )
                except TimeoutError:
                    continue  # time for the periodic backfill
                except Exception:  # disconnected with an error: the supervisor reconnects
                    break
        finally:
            self._set_connected(False)
            for callback, builder in session.handlers:
                client.remove_event_handler(callback, builder)
            try:
                await client.disconnect()
            except Exception:  # already gone; nothing left to close
                log.debug("telegram: disconnect failed", exc_info=True)

    def _listen(self, session: _Session) -> None:
        handlers: list[tuple[Callable[..., Awaitable[None]], Any]] = [
            (self._on_message, events.NewMessage()),
            (self._on_message, events.MessageEdited()),
            (self._on_deleted, events.MessageDeleted()),
        ]
        for callback, builder in handlers:
            session.client.add_event_handler(callback, builder)
        session.handlers = handlers

    # -- channel identity --------------------------------------------------------------------

    async def _resolve_all(self, client: TelegramClient) -> None:
        self._by_peer = {}
        for channel in self.channels.values():
            try:
                entity = await self._flood_retry(
                    f"resolving {channel.key}", partial(self._resolve, client, channel)
                )
            except (ValueError, errors.RPCError) as exc:
                channel.health.errors += 1
                channel.health.detail = f"cannot resolve channel: {type(exc).__name__}: {exc}"[:300]
                log.error("telegram: channel %s: %s", channel.key, channel.health.detail)
                continue
            channel.username = entity.username
            assert channel.pin is not None
            self._by_peer[utils.get_peer_id(types.PeerChannel(channel.pin.channel_id))] = channel
            await self._check_rename(channel, entity)

    async def _resolve(self, client: TelegramClient, channel: Channel) -> types.Channel:
        """The channel as it is now: through its pin if there is one, else resolved and pinned."""
        channel.pin = channel.pin or await self.store.pin(channel.key)
        if channel.pin is not None:
            result = await client(
                functions.channels.GetChannelsRequest(
                    [types.InputChannel(channel.pin.channel_id, channel.pin.access_hash)]
                )
            )
            return _only_channel(result.chats, channel.pin.channel_id)
        if channel.key.startswith("id"):
            peer = await client.get_input_entity(types.PeerChannel(int(channel.key[2:])))
            result = await client(functions.channels.GetChannelsRequest([peer]))
            entity = _only_channel(result.chats, int(channel.key[2:]))
        else:
            resolved = await client(functions.contacts.ResolveUsernameRequest(channel.key))
            if not isinstance(resolved.peer, types.PeerChannel):
                raise ValueError(f"@{channel.key} is not a channel")
            entity = _only_channel(resolved.chats, resolved.peer.channel_id)
        channel.pin = await self.store.save_pin(
            Pin(channel.key, entity.id, entity.access_hash or 0, entity.username, entity.title)
        )
        log.info("telegram: pinned %s to channel id %d", channel.key, channel.pin.channel_id)
        return entity

    async def _check_rename(self, channel: Channel, entity: types.Channel) -> None:
        rename = await self.store.observe_channel(channel.key, entity.username, entity.title)
        channel.health.renamed = rename is not None
        if rename is None:
            return
        # the pin keeps following the channel it was; a new owner of the old username is not it
        channel.health.detail = rename.describe()
        if rename.new:
            log.warning("telegram: %s; still following channel id %d", rename.describe(), entity.id)

    # -- messages ----------------------------------------------------------------------------

    async def _on_message(self, event: Any) -> None:
        channel = self._by_peer.get(event.chat_id) if event.chat_id else None
        if channel is None:
            return  # not a configured channel: never an official source
        await self._deliver(channel, to_message(channel.key, channel.username, event.message))

    async def _on_deleted(self, event: Any) -> None:
        channel = self._by_peer.get(event.chat_id) if event.chat_id else None
        if channel is None:
            return
        now = self.clock.now()
        for id_ in event.deleted_ids:
            await self._deliver(channel, Message(channel.key, str(id_), now, "", deleted=True))

    async def _deliver(self, channel: Channel, message: Message | None) -> bool:
        """Hand one message on; False when it could not be recorded (it is read again later)."""
        if message is None:
            return True
        message = self._bounded(channel, message)
        try:
            await self.sink(message)
        except Exception as exc:  # one bad message never stops the channel
            channel.health.errors += 1
            channel.health.detail = f"message {message.id}: {type(exc).__name__}: {exc}"[:300]
            log.exception("telegram: %s: message %s failed", channel.key, message.id)
            return False
        channel.health.last_message_at = self.health.last_message_at = self.clock.now()
        return True

    def _bounded(self, channel: Channel, message: Message) -> Message:
        """The message with any date the core cannot use (before 1970, far ahead) set to now."""
        now = self.clock.now()
        published, original = clamp(message.published_at, now)
        edited, edit_original = clamp(message.edited_at, now) if message.edited_at else (None, None)
        originals = [o for o in (original, edit_original) if o is not None]
        if not originals:
            return message
        channel.health.clamped_times += len(originals)
        channel.health.detail = (
            f"message {message.id}: out-of-range date {', '.join(originals)}; used now"
        )
        log.warning("telegram: %s: %s", channel.key, channel.health.detail)
        return replace(message, published_at=published, edited_at=edited)

    async def backfill(self, client: TelegramClient) -> int:
        """Read what each channel posted since its cursor; returns how many messages."""
        total = 0
        for channel in list(self._by_peer.values()):
            try:
                total += await self._flood_retry(
                    f"backfilling {channel.key}",
                    partial(self._backfill_channel, client, channel),
                )
            except (ValueError, errors.RPCError) as exc:
                channel.health.errors += 1
                channel.health.detail = f"backfill failed: {type(exc).__name__}: {exc}"[:300]
                log.warning("telegram: %s: %s", channel.key, channel.health.detail)
        return total

    async def _backfill_channel(self, client: TelegramClient, channel: Channel) -> int:
        # a flood wait mid-way restarts here, from the cursor saved after each message
        last = await self.store.last_seen_id(channel.key)
        if last:
            found = [m async for m in client.iter_messages(channel.peer, min_id=last, reverse=True)]
        else:
            found = [m async for m in client.iter_messages(channel.peer, limit=INITIAL_BACKFILL)]
            found.reverse()
        done = 0
        for msg in found:
            if not await self._deliver(channel, to_message(channel.key, channel.username, msg)):
                break  # the cursor stays before it: the next backfill reads it again
            await self.store.set_last_seen_id(channel.key, msg.id)
            done += 1
        if found:
            log.info("telegram: %s: backfilled %d of %d messages", channel.key, done, len(found))
        return done

    async def recheck(self, client: TelegramClient) -> int:
        """Read the recent past of each channel again (recheck_window, at most recheck_max
        messages): edits and deletions made while we were away are applied. Returns changes."""
        total = 0
        for channel in list(self._by_peer.values()):
            try:
                total += await self._flood_retry(
                    f"rechecking {channel.key}", partial(self._recheck_channel, client, channel)
                )
            except (ValueError, errors.RPCError) as exc:
                channel.health.errors += 1
                channel.health.detail = f"recheck failed: {type(exc).__name__}: {exc}"[:300]
                log.warning("telegram: %s: %s", channel.key, channel.health.detail)
        return total

    async def _recheck_channel(self, client: TelegramClient, channel: Channel) -> int:
        last = await self.store.last_seen_id(channel.key)
        limit = self.cfg.recheck_max
        if not last or not limit:
            return 0  # nothing recorded yet: the backfill reads the history
        cutoff = self.clock.now() - timedelta(seconds=self.cfg.recheck_window)
        found = []
        async for m in client.iter_messages(channel.peer, max_id=last + 1, limit=limit):
            if m.date is not None and m.date < cutoff:
                break
            found.append(m)
        # a full page may stop short of the cutoff: only what it covers can be judged deleted
        lowest = min(m.id for m in found) if len(found) >= limit else 0
        present = {m.id for m in found}
        known = await self.store.live_message_ids(channel.key, cutoff)
        gone = sorted(i for i in known if lowest <= i <= last and i not in present)
        for msg in reversed(found):  # oldest first; an unchanged message changes nothing
            await self._deliver(channel, to_message(channel.key, channel.username, msg))
        now = self.clock.now()
        for id_ in gone:
            await self._deliver(channel, Message(channel.key, str(id_), now, "", deleted=True))
        if gone:
            log.info("telegram: %s: %d messages deleted while away", channel.key, len(gone))
        return len(found) + len(gone)

    async def _flood_retry(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            try:
                return await call()
            except errors.FloodWaitError as exc:
                self._flood(exc.seconds, what)
                await self.sleep(float(exc.seconds))

    # -- health ------------------------------------------------------------------------------

    def _flood(self, seconds: int, what: str) -> None:
        self.health.flood_waits += 1
        self.health.flood_wait_seconds += seconds
        log.warning("telegram: flood wait of %ds while %s", seconds, what)

    def _problem(self, detail: str, count: bool = True) -> None:
        if count:
            self.health.errors += 1
        self.health.detail = detail
        (log.error if count else log.warning)("telegram: %s", detail)

    def _set_connected(self, up: bool) -> None:
        self.health.connected = up
        if up:
            self.health.detail = ""
        for channel in self.channels.values():
            channel.health.connected = up and channel in self._by_peer.values()


def _only_channel(chats: list[Any], channel_id: int) -> types.Channel:
    for chat in chats:
        if isinstance(chat, types.Channel) and chat.id == channel_id:
            return chat
    raise ValueError(
        f"Telegram did not return channel id {channel_id} (not a channel, or no access)"
    )


def build(
    cfg: Sources, sink: Sink, channels: ChannelStore | None, clock: Clock | None
) -> list[Source]:
    """The one Telegram account, if configured (it needs the channel store for its pins)."""
    if cfg.telegram is None or channels is None:
        return []
    return [TelegramSource(cfg.telegram, sink, channels, clock=clock)]
