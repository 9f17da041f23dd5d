"""Every long-running notice source, by kind: one line per source module (ingest is web routes)."""

from __future__ import annotations

from monitor.config import Sources
from monitor.core.base import Clock
from monitor.sources import feed, telegram
from monitor.sources.base import Build, Sink, Source
from monitor.store.channels import ChannelStore

BUILDERS: dict[str, Build] = {
    "telegram": telegram.build,
    "feed": feed.build,
}


def sources_from_config(
    cfg: Sources, sink: Sink, channels: ChannelStore | None = None, clock: Clock | None = None
) -> list[Source]:
    """The long-running sources the config asks for, in registry order."""
    return [src for build in BUILDERS.values() for src in build(cfg, sink, channels, clock)]
