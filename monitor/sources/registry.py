"""Every long-running notice source, by kind: one line per source module (ingest is web routes).

A source module is imported only when the config has its section: Telethon alone is ~6-9 MB
of a daemon's memory (and ~150 ms of its start) that a config without Telegram never uses.
"""

from __future__ import annotations

from importlib import import_module

from monitor.config import Sources
from monitor.core.base import Clock
from monitor.sources.base import Build, Sink, Source
from monitor.store.channels import ChannelStore

# kind -> (the Sources field that configures it, the module whose `build` makes its sources)
BUILDERS: dict[str, tuple[str, str]] = {
    "telegram": ("telegram", "monitor.sources.telegram"),
    "feed": ("feeds", "monitor.sources.feed"),
}


def builder(kind: str) -> Build:
    """A source kind's `build` (its module is imported here, on first use)."""
    build: Build = import_module(BUILDERS[kind][1]).build
    return build


def sources_from_config(
    cfg: Sources, sink: Sink, channels: ChannelStore | None = None, clock: Clock | None = None
) -> list[Source]:
    """The long-running sources the config asks for, in registry order."""
    return [
        src
        for kind, (field, _) in BUILDERS.items()
        if getattr(cfg, field)  # None or an empty list: not configured, not imported
        for src in builder(kind)(cfg, sink, channels, clock)
    ]
