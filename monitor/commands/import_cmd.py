"""`outwatch import telegram -c FILE result.json [--source NAME]`: load a channel's history."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from monitor import config
from monitor.core.base import Message
from monitor.sources.export import Clamped, ExportError, load_export
from monitor.store.announcements import AnnouncementStore
from monitor.store.channels import ChannelStore, Pin
from monitor.store.db import Store

BATCH = 500  # messages per transaction: the store thread stays responsive for a running daemon


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("import", help="import announcement history into the store")
    kinds = p.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    tg = kinds.add_parser(
        "telegram",
        help="a Telegram Desktop export (result.json)",
        description="Classify and store the messages of a Telegram Desktop export. Importing "
        "the same export again adds nothing. Messages of a pinned channel are filed under its "
        "configured name; --source names (or, in a full-account export, selects) the channel.",
    )
    tg.add_argument("-c", "--config", required=True, help="config file")
    tg.add_argument("export", type=Path, help="result.json from Telegram Desktop")
    tg.add_argument("--source", help="channel: configured username, title, or id<number>")
    tg.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Import and print counts; exit 2 on an unreadable export."""
    cfg = config.load(args.config)
    store = Store(cfg.storage.path)
    clamped = Clamped()
    try:
        counts = asyncio.run(_import(cfg, store, args.export, args.source, clamped))
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        store.close()
    print(
        f"{args.export}: {sum(counts.values())} messages: {counts['new']} new, "
        f"{counts['edited']} edited, {counts['unchanged'] + counts['deleted']} unchanged"
    )
    if clamped.originals:
        shown = "; ".join(clamped.originals[:3]) + ("; ..." if len(clamped.originals) > 3 else "")
        print(
            f"{args.export}: {len(clamped.originals)} dates out of range set to the import time: "
            f"{shown}",
            file=sys.stderr,
        )
    return 0


async def _import(
    cfg: config.Config, store: Store, path: Path, source: str | None, clamped: Clamped
) -> Counter[str]:
    from monitor.core.classify.classifier import (
        Classifier,  # loads dictionaries: only when importing
    )

    ann, channels = AnnouncementStore(store), ChannelStore(store)
    await ann.ensure_schema()
    await channels.ensure_schema()
    messages = await _load(channels, path, source, clamped)
    classifier = Classifier.from_services(cfg.services)
    own = cfg.sources.own_services()  # an import into a service's own channel is about it
    counts: Counter[str] = Counter()
    for start in range(0, len(messages), BATCH):
        batch = messages[start : start + BATCH]
        said = [(m, classifier.classify(m.text, own.get(m.source))) for m in batch]
        changes = await ann.record_many(said)
        counts.update(c.kind for c in changes)
    return counts


async def _load(
    channels: ChannelStore, path: Path, source: str | None, clamped: Clamped
) -> list[Message]:
    """The export's messages, filed under the pinned channel's name where there is one."""
    if source is None:
        pins = {f"id{p.channel_id}": p for p in await channels.pins()}
        return [_named(m, pins.get(m.source)) for m in load_export(path, clamped=clamped)]
    # imported here: every command module is imported by `outwatch run` too, and telegram.py
    # brings Telethon (~25 MB) that a daemon without Telegram never uses
    from monitor.sources.telegram import channel_key

    pin = await channels.pin(channel_key(source))
    if pin is None:
        return load_export(path, source, clamped)
    wanted = f"id{pin.channel_id}"
    messages = [_named(m, pin) for m in load_export(path, clamped=clamped) if m.source == wanted]
    if not messages:
        raise ExportError(f"{path}: no messages of channel {pin.key} (id {pin.channel_id})")
    return messages


def _named(message: Message, pin: Pin | None) -> Message:
    if pin is None:
        return message
    url = f"https://t.me/{pin.username}/{message.id}" if pin.username else None
    return replace(message, source=pin.key, url=url)
