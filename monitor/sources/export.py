"""Telegram Desktop exports (result.json): a channel's history as messages."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.base import Message
from monitor.core.text import clean_text
from monitor.core.timebounds import clamp, from_unix

CHANNEL_TYPES = ("public_channel", "private_channel")
MAX_EXPORT_BYTES = 2 * 1024**3  # a sanity bound: exports are JSON read whole


class ExportError(Exception):
    """The export cannot be read; the message is `FILE: what is wrong`."""


class _Bad(Exception):
    """A problem inside the export, before the file name is added."""


@dataclass
class Clamped:
    """Dates out of range (before 1970, ahead of the import) replaced by the import time."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    originals: list[str] = field(default_factory=list)  # "messages[3].date: 9999-12-31..."


def load_export(
    path: Path, source: str | None = None, clamped: Clamped | None = None
) -> list[Message]:
    """Messages of a Telegram Desktop export, oldest first.

    A single-chat export gives all its messages, named `source` or `id<chat id>`. A full-account
    export gives its channels; `source` selects one by title, `id<number>` or number.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_EXPORT_BYTES:
            raise ExportError(f"{path}: the file is larger than 2 GB")
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ExportError(f"{path}: JSON nested too deeply") from None
    try:
        return parse_export(data, source, clamped)
    except _Bad as exc:
        raise ExportError(f"{path}: {exc}") from None


def parse_export(
    data: Any, source: str | None = None, clamped: Clamped | None = None
) -> list[Message]:
    """Messages from already-decoded export JSON; raises _Bad (see load_export)."""
    clamped = Clamped() if clamped is None else clamped
    if not isinstance(data, dict):
        raise _Bad("not a Telegram Desktop export (expected a JSON object)")
    if "messages" in data:
        messages = _chat_messages(data, source or f"id{_chat_id(data, '')}", "", clamped)
        return sorted(messages, key=lambda m: m.published_at)
    chats = data.get("chats")
    listing = chats.get("list") if isinstance(chats, dict) else None
    if not isinstance(listing, list):
        raise _Bad("not a Telegram Desktop export (no 'messages' and no 'chats.list')")
    out: list[Message] = []
    found = False
    for i, chat in enumerate(listing):
        where = f"chats.list[{i}]"
        if not isinstance(chat, dict):
            raise _Bad(f"{where}: expected an object")
        if chat.get("type") not in CHANNEL_TYPES:
            continue
        chat_id = _chat_id(chat, where)
        if source is not None and not _selects(source, chat, chat_id):
            continue
        found = True
        out.extend(_chat_messages(chat, source or f"id{chat_id}", where, clamped))
    if source is not None and not found:
        names = [
            " ".join(str(c.get("name")).split())  # one line, whatever the title holds
            for c in listing
            if isinstance(c, dict) and c.get("type") in CHANNEL_TYPES
        ]
        raise _Bad(f"no channel {source!r} in the export; channels: {', '.join(names) or 'none'}")
    return sorted(out, key=lambda m: m.published_at)


def _selects(source: str, chat: dict[str, Any], chat_id: int) -> bool:
    name = chat.get("name")
    return source in (f"id{chat_id}", str(chat_id)) or (
        isinstance(name, str) and name.casefold() == source.casefold()
    )


def _chat_id(chat: dict[str, Any], where: str) -> int:
    value = chat.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Bad(f"{where + ': ' if where else ''}'id' of the chat is missing or not a number")
    try:
        return abs(int(value))
    except ValueError:
        raise _Bad(f"{where + ': ' if where else ''}'id' of the chat is not a number") from None


def _chat_messages(
    chat: dict[str, Any], source: str, where: str, clamped: Clamped
) -> list[Message]:
    messages = chat.get("messages")
    prefix = f"{where}." if where else ""
    if not isinstance(messages, list):
        raise _Bad(f"{prefix}messages: expected a list")
    out = []
    for i, raw in enumerate(messages):
        try:
            before = len(clamped.originals)
            message = _message(raw, source, clamped)
        except _Bad as exc:
            raise _Bad(f"{prefix}messages[{i}]: {exc}") from None
        for n in range(before, len(clamped.originals)):
            clamped.originals[n] = f"{prefix}messages[{i}].{clamped.originals[n]}"
        if message is not None:
            out.append(message)
    return out


# A public channel's username (5-32 characters); `id<number>` sources have no public link.
_USERNAME = re.compile(r"^(?!id\d+$)[A-Za-z][A-Za-z0-9_]{4,31}$")


def _link(source: str, message_id: int) -> str | None:
    """`https://t.me/<username>/<id>` when the source is a channel username."""
    return f"https://t.me/{source}/{message_id}" if _USERNAME.match(source) else None


def _message(raw: Any, source: str, clamped: Clamped) -> Message | None:
    """One exported message; None for service messages (joins, pins, title changes)."""
    if not isinstance(raw, dict):
        raise _Bad("expected an object")
    if raw.get("type", "message") != "message":
        return None
    id_ = raw.get("id")
    if isinstance(id_, bool) or not isinstance(id_, int):
        raise _Bad("'id' is missing or not an integer")
    published = _when(raw, "date", clamped)
    if published is None:
        raise _Bad("'date_unixtime' (or 'date') is missing")
    return Message(
        source=source,
        id=str(id_),
        published_at=published,
        text=clean_text(_text(raw.get("text", ""))),
        url=_link(source, id_),
        edited_at=_when(raw, "edited", clamped),
    )


def _when(raw: dict[str, Any], field: str, clamped: Clamped) -> datetime | None:
    """`<field>_unixtime` (UTC seconds, as a string), else the older local-time `<field>`.

    A date the core cannot use becomes the import time, noted in `clamped`.
    """
    unix = raw.get(f"{field}_unixtime")
    if unix is not None:
        if isinstance(unix, bool):
            raise _Bad(f"'{field}_unixtime' is not a number of seconds: {unix!r:.40}")
        try:
            seconds = int(unix)
        except (TypeError, ValueError, OverflowError):
            raise _Bad(f"'{field}_unixtime' is not a number of seconds: {unix!r:.40}") from None
        when, original = from_unix(seconds, clamped.now)
        if original is not None:
            clamped.originals.append(f"{field}_unixtime: {unix!r:.40}")
        return when
    text = raw.get(field)
    if text is None:
        return None
    try:
        # older exports write local time without an offset; taken as UTC, the best guess there is
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise _Bad(f"'{field}' is not an ISO 8601 date: {text!r:.40}") from None
    when, original = clamp(when if when.tzinfo else when.replace(tzinfo=UTC), clamped.now)
    if original is not None:
        clamped.originals.append(f"{field}: {text!r:.40}")
    return when


def _text(value: Any) -> str:
    """`text` is a string, or a list of strings and entity objects ({"type": "bold", "text": ...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise _Bad("'text' holds a part that is neither a string nor {'text': ...}")
        return "".join(parts)
    if value is None:
        return ""
    raise _Bad("'text' is neither a string nor a list")
