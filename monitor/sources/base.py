"""What every announcement source shares: the sink it feeds and the health it reports."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from monitor.core.base import Classification, Clock, Message

if TYPE_CHECKING:
    from monitor.config import Sources
    from monitor.store.announcements import AnnouncementStore, Change
    from monitor.store.channels import ChannelStore

log = logging.getLogger("outwatch.sources")

Sink = Callable[[Message], Awaitable[None]]
"""Where a source hands each new, edited or deleted message."""

SourceKind = Literal["telegram", "feed", "ingest"]


@dataclass
class SourceHealth:
    """What a source reports about itself; sources update it, the metrics module reads it."""

    name: str
    kind: SourceKind
    connected: bool = False
    last_message_at: datetime | None = None
    flood_waits: int = 0
    flood_wait_seconds: float = 0.0
    reconnects: int = 0
    errors: int = 0
    renamed: bool = False
    clamped_times: int = 0  # times out of range (year 9999, before 1970) replaced by receipt time
    detail: str = ""  # the last problem or notable change, one line, no secrets
    stale_after: float | None = None  # silent this long: stale (its config's stale_after)


class Source(Protocol):
    """An announcement source; the daemon owns its task and cancels it on shutdown."""

    name: str
    health: SourceHealth

    def healths(self) -> list[SourceHealth]:
        """`health` plus any per-channel health (a Telegram source watches several channels)."""
        ...

    async def run(self) -> None:
        """Run until cancelled; a bad message is logged and counted, never fatal."""
        ...


def recording_sink(
    store: AnnouncementStore,
    classify: Callable[[Message], Classification],
    on_change: Callable[[Change], Awaitable[None]] | None = None,
) -> Sink:
    """A sink that classifies each message (by its text and its source), records it, and passes
    real changes on."""

    async def sink(message: Message) -> None:
        change = await store.record(message, classify(message))
        if on_change is not None and change.kind != "unchanged":
            await on_change(change)

    return sink


class Build(Protocol):
    """What each source module registers: its long-running sources for a config."""

    def __call__(
        self, cfg: Sources, sink: Sink, channels: ChannelStore | None, clock: Clock | None
    ) -> list[Source]: ...
