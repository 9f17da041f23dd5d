"""A real TelegramClient that never connects: requests are answered from fixtures at the sender.

Everything above the sender is Telethon's own code: `_call` (flood-wait handling, entity
processing), `iter_messages` (paging, reverse order, min_id), and update dispatch into event
builders (NewMessage, MessageEdited, MessageDeleted).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import TelegramClient, errors
from telethon.sessions import StringSession
from telethon.tl import functions, types
from telethon.tl.types import contacts, messages

T0 = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)


def channel(id_: int, username: str | None, title: str, access_hash: int = 7) -> types.Channel:
    return types.Channel(
        id=id_,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=T0 - timedelta(days=365),
        access_hash=access_hash,
        username=username,
        broadcast=True,
    )


def post(channel_id: int, id_: int, text: str, minutes: int = 0, **kw: Any) -> types.Message:
    return types.Message(
        id=id_,
        peer_id=types.PeerChannel(channel_id),
        date=T0 + timedelta(minutes=minutes or id_),
        message=text,
        **kw,
    )


@dataclass
class World:
    """What Telegram knows: channels, their history, who owns which username."""

    channels: dict[int, types.Channel] = field(default_factory=dict)
    history: dict[int, list[types.Message]] = field(default_factory=dict)
    usernames: dict[str, int] = field(default_factory=dict)
    authorized: bool = True
    floods: list[tuple[type, int]] = field(default_factory=list)  # next request of type: wait
    requests: list[Any] = field(default_factory=list)
    clients: list[OfflineClient] = field(default_factory=list)

    def add(self, chan: types.Channel, *posts: types.Message) -> None:
        self.channels[chan.id] = chan
        self.history.setdefault(chan.id, []).extend(posts)
        if chan.username:
            self.usernames[chan.username.lower()] = chan.id

    def client(self) -> OfflineClient:
        c = OfflineClient(self)
        # the session file remembers access hashes of channels the account has seen
        c.session.process_entities(
            contacts.ResolvedPeer(peer=None, chats=list(self.channels.values()), users=[])
        )
        self.clients.append(c)
        return c

    def answer(self, request: Any) -> Any:
        self.requests.append(request)
        for i, (kind, seconds) in enumerate(self.floods):
            if isinstance(request, kind):
                del self.floods[i]
                raise errors.FloodWaitError(request=request, capture=seconds)
        if isinstance(request, functions.messages.GetHistoryRequest):
            return self._history(request)
        if isinstance(request, functions.contacts.ResolveUsernameRequest):
            id_ = self.usernames.get(request.username.lower())
            if id_ is None:
                raise errors.UsernameNotOccupiedError(request=request)
            return contacts.ResolvedPeer(
                peer=types.PeerChannel(id_), chats=[self.channels[id_]], users=[]
            )
        if isinstance(request, functions.channels.GetChannelsRequest):
            chats = []
            for ic in request.id:
                chan = self.channels.get(ic.channel_id)
                if chan is None or chan.access_hash != ic.access_hash:
                    raise errors.ChannelInvalidError(request=request)
                chats.append(chan)
            return messages.Chats(chats=chats)
        if isinstance(request, functions.users.GetUsersRequest):
            return [types.User(id=1, is_self=True, access_hash=1)]
        raise NotImplementedError(type(request).__name__)

    def _history(self, req: functions.messages.GetHistoryRequest) -> Any:
        """messages.getHistory as Telegram pages it: newest first, offset_id + add_offset, limit."""
        chan_id = req.peer.channel_id
        msgs = sorted(self.history.get(chan_id, []), key=lambda m: -m.id)
        msgs = [m for m in msgs if (not req.min_id or m.id > req.min_id)]
        msgs = [m for m in msgs if (not req.max_id or m.id < req.max_id)]
        if req.offset_id:
            i = next((n for n, m in enumerate(msgs) if m.id < req.offset_id), len(msgs))
        else:
            i = 0
        start = i + req.add_offset
        end = start + req.limit
        page = msgs[max(0, start) : max(0, end)]
        return messages.ChannelMessages(
            pts=1,
            count=len(msgs),
            messages=page,
            topics=[],
            chats=[self.channels[chan_id]],
            users=[],
        )


class FakeSender:
    """Stands in for MTProtoSender: answers each request from the world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.connected = False
        self._disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def send(self, request: Any, ordered: bool = False) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.connected:
            fut.set_exception(ConnectionError("not connected"))
            return fut
        try:
            fut.set_result(self.world.answer(request))
        except Exception as exc:
            fut.set_exception(exc)
        return fut

    def is_connected(self) -> bool:
        return self.connected

    def _transport_connected(self) -> bool:
        return self.connected

    @property
    def disconnected(self) -> asyncio.Future[None]:
        return self._disconnected

    def drop(self) -> None:
        self.connected = False
        if not self._disconnected.done():
            self._disconnected.set_result(None)


class OfflineClient(TelegramClient):  # type: ignore[misc]
    """A real client with the network replaced by FakeSender."""

    def __init__(self, world: World) -> None:
        super().__init__(StringSession(), 12345, "0" * 32, flood_sleep_threshold=0)
        self.world = world
        self._sender = FakeSender(world)
        self._mb_entity_cache.set_self_user(1, False, 1)

    async def connect(self) -> None:
        self._sender.connected = True

    async def is_user_authorized(self) -> bool:
        return self.world.authorized

    async def disconnect(self) -> None:
        self._sender.drop()

    def drop(self) -> None:
        """The connection is lost."""
        self._sender.drop()

    async def push(self, update: Any) -> None:
        """Deliver one update the way the update loop does."""
        chats = list(self.world.channels.values())
        await self._preprocess_updates([update], [], chats)
        await self._dispatch_update(update)
