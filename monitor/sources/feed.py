"""RSS and Atom feeds: conditional GET every interval, each new or changed entry to the sink."""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import aiohttp
import feedparser

from monitor import __version__
from monitor.config import Feed, Sources
from monitor.core.base import Clock, Message, SystemClock
from monitor.core.text import clean_text
from monitor.core.timebounds import from_unix
from monitor.sources.base import Sink, Source, SourceHealth
from monitor.store.channels import ChannelStore

log = logging.getLogger("outwatch.sources.feed")

MAX_FEED_BYTES = 10 * 1024 * 1024
USER_AGENT = f"outwatch/{__version__}"


class _Text(HTMLParser):
    """Visible text of an HTML fragment (feed summaries are HTML)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace tidied."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _when(entry: Any, field: str, now: datetime, clamped: list[str]) -> datetime | None:
    # dict.get, not FeedParserDict.get: that maps a missing updated_parsed to published_parsed
    parsed = dict.get(entry, f"{field}_parsed")
    if not parsed:
        return None
    try:
        seconds: float = calendar.timegm(parsed)
    except (TypeError, ValueError, OverflowError):
        seconds = float("nan")
    when, original = from_unix(seconds, now)
    if original is not None:
        clamped.append(f"{field} {dict.get(entry, field)!r:.60}")
    return when


# query values (`?key=...`) and user:password@ in any URL an exception's text carries
_QUERY_VALUE = re.compile(r"([?&;][^=&;\s#'\"<>]+=)[^&;\s#'\"<>)]+")
_USERINFO = re.compile(r"(\w+://)[^/@\s'\"<>]+@")


def redact_urls(text: str) -> str:
    """Text with URL query values and credentials replaced: feed URLs often carry an API key."""
    return _USERINFO.sub(r"\1<redacted>@", _QUERY_VALUE.sub(r"\1<redacted>", text))


def _field_text(detail: Any, value: Any) -> str:
    """A feed text field as plain text: HTML rendered to text, plain text kept as it is."""
    text = str(value or "")
    is_html = isinstance(detail, dict) and "html" in str(detail.get("type", ""))
    return html_text(text) if is_html else text.strip()


def entry_message(
    source: str, entry: Any, now: datetime, clamped: list[str] | None = None
) -> Message:
    """The message for one feed entry; its id is the entry's id, else its link, else a hash.

    A date the core cannot use (year 9999, before 1970) becomes `now`; its text goes to `clamped`.
    """
    clamped = [] if clamped is None else clamped
    title = _field_text(entry.get("title_detail"), entry.get("title"))
    body = ""
    if entry.get("content"):
        body = _field_text(entry["content"][0], entry["content"][0].get("value"))
    body = body or _field_text(entry.get("summary_detail"), entry.get("summary"))
    text = "\n\n".join(p for p in (title, body) if p)
    link = entry.get("link")
    id_ = entry.get("id") or link or hashlib.sha256(text.encode()).hexdigest()[:32]
    published = _when(entry, "published", now, clamped)
    updated = _when(entry, "updated", now, clamped)
    return Message(
        source=source,
        id=str(id_)[:500],
        published_at=published or updated or now,
        text=clean_text(text),
        url=str(link)
        if isinstance(link, str) and link.startswith(("http://", "https://"))
        else None,
        edited_at=updated if published and updated and updated > published else None,
    )


class FeedSource:
    """One RSS or Atom feed, polled every `interval` with ETag / Last-Modified."""

    def __init__(
        self,
        cfg: Feed,
        sink: Sink,
        store: ChannelStore | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.health = SourceHealth(cfg.name, "feed", stale_after=cfg.stale_after)
        self.sink = sink
        self.store = store
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.etag: str | None = None
        self.modified: str | None = None
        self._seen: dict[str, str] = {}  # entry id -> text last handed on
        self._loaded = False
        self._validators: tuple[str | None, str | None] = (None, None)

    def healths(self) -> list[SourceHealth]:
        """Just this feed's health."""
        return [self.health]

    async def run(self) -> None:
        """Poll until cancelled."""
        timeout = aiohttp.ClientTimeout(total=min(30.0, self.cfg.interval))
        async with aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as session:
            while True:
                try:
                    await self.poll(session)
                except Exception as exc:  # e.g. the store is locked: try again next time
                    self._problem(f"poll failed: {type(exc).__name__}: {exc}"[:300])
                await self.sleep(self.cfg.interval)

    async def poll(self, session: aiohttp.ClientSession) -> int:
        """Fetch once; hand on new or changed entries; returns how many. Never raises on bad input."""
        if not self._loaded and self.store is not None:
            cursor = await self.store.cursor(self._cursor_key)
            if isinstance(cursor, dict):
                self.etag, self.modified = cursor.get("etag"), cursor.get("modified")
            self._loaded = True
        try:
            body = await self._fetch(session)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._problem(f"fetch failed: {type(exc).__name__}: {exc}"[:300])
            return 0
        if body is None:
            return 0  # 304 Not Modified
        # a stream, never bytes: feedparser would try to open bytes as a local file name
        parsed = await asyncio.to_thread(feedparser.parse, io.BytesIO(body))
        if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
            reason = parsed.get("bozo_exception") or "no RSS or Atom document"
            self._problem(f"not a valid feed: {reason}"[:300])
            return 0
        return await self._hand_on(parsed.entries)

    @property
    def _cursor_key(self) -> str:
        return f"feed:{self.name}"

    async def _fetch(self, session: aiohttp.ClientSession) -> bytes | None:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        async with session.get(self.cfg.url, headers=headers) as resp:
            self.health.connected = resp.status < 400
            if resp.status == 304:
                self.health.detail = ""
                return None
            if resp.status >= 400:
                raise ValueError(f"HTTP {resp.status}")
            chunks, size = [], 0
            async for chunk in resp.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise ValueError(f"feed larger than {MAX_FEED_BYTES // 1024**2} MB")
                chunks.append(chunk)
            self._validators = (resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
            return b"".join(chunks)

    async def _hand_on(self, entries: list[Any]) -> int:
        now = self.clock.now()
        seen: dict[str, str] = {}
        handed = unrecorded = 0
        for entry in entries:
            try:
                clamped: list[str] = []
                message = entry_message(self.name, entry, now, clamped)
                if clamped:
                    self._clamped(message.id, clamped)
            except Exception as exc:  # an entry we cannot read stays unreadable: skip it
                self._problem(f"entry failed: {type(exc).__name__}: {exc}"[:300])
                log.debug("feed %s: entry failed", self.name, exc_info=True)
                continue
            if self._seen.get(message.id) == message.text:
                seen[message.id] = message.text
                continue
            try:
                await self.sink(message)
            except Exception as exc:  # one bad entry never stops the feed; it is tried again
                unrecorded += 1
                self._problem(f"entry {message.id} failed: {type(exc).__name__}: {exc}"[:300])
                log.debug("feed %s: entry failed", self.name, exc_info=True)
                continue
            seen[message.id] = message.text  # seen only once recorded
            handed += 1
            self.health.last_message_at = now
        self._seen = seen  # only the current entries: memory stays bounded
        if unrecorded:
            # keep the old validators: a 304 next time would hide the entries not yet recorded
            return handed
        self.etag, self.modified = self._validators
        if self.store is not None:
            await self.store.set_cursor(
                self._cursor_key, {"etag": self.etag, "modified": self.modified}
            )
        self.health.detail = ""
        return handed

    def _clamped(self, entry_id: str, originals: list[str]) -> None:
        self.health.clamped_times += len(originals)
        self.health.detail = (
            f"entry {entry_id!r:.80}: out-of-range {', '.join(originals)}; used now"
        )
        log.warning("feed %s: %s", self.name, self.health.detail)

    def _problem(self, detail: str) -> None:
        self.health.errors += 1
        self.health.detail = detail = redact_urls(detail)
        log.warning("feed %s: %s", self.name, detail)


def build(
    cfg: Sources, sink: Sink, channels: ChannelStore | None, clock: Clock | None
) -> list[Source]:
    """One source per configured feed."""
    return [FeedSource(f, sink, channels, clock) for f in cfg.feeds]
