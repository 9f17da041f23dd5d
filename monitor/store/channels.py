"""Per-source bookkeeping: resume cursors, and Telegram channels pinned to their numeric identity."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor.core.base import Clock, SystemClock
from monitor.core.codec import iso
from monitor.store import schema
from monitor.store.db import Store


@dataclass(frozen=True)
class Pin:
    """A configured channel pinned to Telegram's numeric identity on first resolution."""

    key: str  # the source name: configured username, or id<number>
    channel_id: int
    access_hash: int
    username: str | None
    title: str


@dataclass(frozen=True)
class Rename:
    """A pinned channel whose username or title is no longer what was pinned."""

    key: str
    pinned_username: str | None
    pinned_title: str
    username: str | None
    title: str
    new: bool  # differs from what was seen last time (log it once)

    def describe(self) -> str:
        """One line for the log and health."""
        parts = []
        if self.username != self.pinned_username:
            parts.append(f"username @{self.pinned_username} -> @{self.username}")
        if self.title != self.pinned_title:
            parts.append(f"title {self.pinned_title!r} -> {self.title!r}")
        return f"channel {self.key} was renamed: " + ", ".join(parts)


class ChannelStore:
    """Source cursors and channel pins, through the one store writer."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    async def ensure_schema(self) -> None:
        """Create the tables if they are missing."""
        await self.store.run(schema.create_all)

    # -- per-source cursors ------------------------------------------------------------------

    async def cursor(self, source: str) -> Any:
        """The JSON value a source saved to resume from (None if never)."""
        row = await self.store.run(
            lambda db: next(
                db.query("SELECT value FROM source_cursors WHERE source = ?", [source]), None
            )
        )
        return json.loads(row["value"]) if row else None

    async def set_cursor(self, source: str, value: Any) -> None:
        """Save a source's resume point."""
        stamp = iso(self.clock.now())
        await self.store.run(
            lambda db: db.table("source_cursors").upsert(
                {"source": source, "value": json.dumps(value), "updated_at": stamp}, pk="source"
            )
        )

    async def last_seen_id(self, source: str) -> int:
        """The highest message id a backfill has swept up to (0 if never)."""
        value = await self.cursor(source)
        return int(value.get("last_id", 0)) if isinstance(value, dict) else 0

    async def set_last_seen_id(self, source: str, last_id: int) -> None:
        """Advance the backfill cursor (never moves it back)."""
        if last_id > await self.last_seen_id(source):
            await self.set_cursor(source, {"last_id": last_id})

    async def live_message_ids(self, source: str, since: datetime) -> dict[int, datetime]:
        """Numeric ids (and publication times) of a source's recorded, not deleted messages
        published since `since`: what a recheck expects to find still there."""

        def query(db: sqlite_utils.Database) -> dict[int, datetime]:
            rows = db.query(
                "SELECT id, published_at FROM announcements"
                " WHERE source = ? AND deleted = 0 AND published_at >= ?",
                [source, since.isoformat()],
            )
            found = {
                int(r["id"]): datetime.fromisoformat(r["published_at"])
                for r in rows
                if str(r["id"]).isdigit()
            }
            return {k: v for k, v in found.items() if v >= since}

        return await self.store.run(query)

    # -- Telegram channel pins ---------------------------------------------------------------

    async def pin(self, key: str) -> Pin | None:
        """The pinned identity of a configured channel, if it was ever resolved."""
        row = await self.store.run(
            lambda db: next(db.query("SELECT * FROM telegram_channels WHERE key = ?", [key]), None)
        )
        if row is None:
            return None
        return Pin(row["key"], row["channel_id"], row["access_hash"], row["username"], row["title"])

    async def pins(self) -> builtins.list[Pin]:
        """Every pinned channel."""
        rows = await self.store.run(lambda db: list(db.query("SELECT * FROM telegram_channels")))
        return [
            Pin(r["key"], r["channel_id"], r["access_hash"], r["username"], r["title"])
            for r in rows
        ]

    async def save_pin(self, pin: Pin) -> Pin:
        """Pin a channel on first resolution; an existing pin is kept, never replaced."""

        def save(db: sqlite_utils.Database) -> None:
            db.table("telegram_channels").insert(
                {
                    "key": pin.key,
                    "channel_id": pin.channel_id,
                    "access_hash": pin.access_hash,
                    "username": pin.username,
                    "title": pin.title,
                    "pinned_at": stamp,
                    "seen_username": pin.username,
                    "seen_title": pin.title,
                    "seen_at": stamp,
                },
                ignore=True,
            )

        stamp = iso(self.clock.now())
        await self.store.run(save)
        pinned = await self.pin(pin.key)
        assert pinned is not None
        return pinned

    async def observe_channel(self, key: str, username: str | None, title: str) -> Rename | None:
        """Compare a pinned channel's current username and title with the pin; remember them."""

        def observe(db: sqlite_utils.Database) -> Rename | None:
            row = next(db.query("SELECT * FROM telegram_channels WHERE key = ?", [key]), None)
            if row is None:
                return None
            new = (row["seen_username"], row["seen_title"]) != (username, title)
            if new:
                db.table("telegram_channels").update(
                    key, {"seen_username": username, "seen_title": title, "seen_at": stamp}
                )
            if (row["username"], row["title"]) == (username, title):
                return None
            return Rename(key, row["username"], row["title"], username, title, new)

        stamp = iso(self.clock.now())
        return await self.store.run(observe)
