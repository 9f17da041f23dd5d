"""Feeds served by a real aiohttp server: conditional GET, idempotent entries, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitor.config import Feed
from monitor.core.base import Classification, FakeClock, Message
from monitor.sources.base import recording_sink
from monitor.sources.feed import FeedSource, html_text
from monitor.store.announcements import AnnouncementStore
from monitor.store.channels import ChannelStore
from monitor.store.db import Store
from tests.conftest import free_port

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>CERT-UA</title><link>https://cert.gov.ua/</link>
<description>news</description>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://cert.gov.ua/article/{id}</link>
<guid>cert-{id}</guid><pubDate>Tue, 15 Feb 2022 16:{minute:02d}:00 +0200</pubDate>
<description><![CDATA[{body}]]></description></item>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>MoD</title><id>urn:mod</id>
<updated>2022-02-15T18:00:00Z</updated>
<entry><title>Сайт Міноборони атакований</title><id>urn:mod:1</id>
<link href="https://mil.gov.ua/news/1"/>
<published>2022-02-15T14:40:00Z</published><updated>2022-02-15T18:00:00Z</updated>
<content type="html">&lt;p&gt;Тривають роботи з відновлення.&lt;/p&gt;</content></entry>
<entry><title>No id, only a link</title><link href="https://mil.gov.ua/news/2"/></entry>
</feed>"""


@dataclass
class FeedServer:
    url: str = ""
    body: str = ""
    status: int = 200
    etag: str = '"v1"'
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    state = FeedServer()

    async def handle(request: web.Request) -> web.Response:
        state.requests.append(dict(request.headers))
        if state.status != 200:
            return web.Response(status=state.status, text="oops")
        if request.headers.get("If-None-Match") == state.etag:
            return web.Response(status=304)
        return web.Response(
            text=state.body,
            content_type="application/rss+xml",
            headers={"ETag": state.etag, "Last-Modified": "Tue, 15 Feb 2022 16:00:00 GMT"},
        )

    app = web.Application()
    app.router.add_get("/feed.xml", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state.url = f"http://127.0.0.1:{port}/feed.xml"
    yield state
    await runner.cleanup()


def rss(*items: tuple[int, str, str]) -> str:
    return RSS.format(
        items="".join(ITEM.format(id=i, title=t, body=b, minute=i) for i, t, b in items)
    )


class Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        if "poison" in message.text:
            raise RuntimeError("classifier exploded")
        self.messages.append(message)


async def test_conditional_get_and_idempotent_entries(feed_server: FeedServer) -> None:
    feed_server.body = rss((1, "DDoS на ПриватБанк", "<b>Атака</b> триває"))
    sink = Collect()
    source = FeedSource(Feed(name="cert", url=feed_server.url), sink)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 1
        assert await source.poll(session) == 0  # 304
        assert feed_server.requests[1]["If-None-Match"] == '"v1"'
        assert feed_server.requests[1]["If-Modified-Since"] == "Tue, 15 Feb 2022 16:00:00 GMT"
        # a new version of the feed: one new entry, one unchanged
        feed_server.body = rss(
            (1, "DDoS на ПриватБанк", "<b>Атака</b> триває"), (2, "Відновлено", "<p>ok</p>")
        )
        feed_server.etag = '"v2"'
        assert await source.poll(session) == 1
    first, second = sink.messages
    assert first.source == "cert"
    assert first.id == "cert-1"
    assert first.text == "DDoS на ПриватБанк\n\nАтака триває"
    assert first.url == "https://cert.gov.ua/article/1"
    assert first.published_at == datetime(2022, 2, 15, 14, 1, tzinfo=UTC)
    assert second.id == "cert-2"
    assert source.health.connected and source.health.errors == 0


async def test_atom_ids_links_and_updates(feed_server: FeedServer) -> None:
    feed_server.body = ATOM
    sink = Collect()
    source = FeedSource(Feed(name="mod", url=feed_server.url), sink)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 2
    one, two = sink.messages
    assert one.id == "urn:mod:1"
    assert one.text == "Сайт Міноборони атакований\n\nТривають роботи з відновлення."
    assert one.edited_at == datetime(2022, 2, 15, 18, 0, tzinfo=UTC)
    assert two.id == "https://mil.gov.ua/news/2"  # no id: the link


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (500, "", "fetch failed: ValueError: HTTP 500"),
        (200, "this is not xml <<<", "not a valid feed"),
        (200, "", "not a valid feed"),
    ],
)
async def test_errors_are_counted_not_fatal(
    feed_server: FeedServer, status: int, body: str, detail: str
) -> None:
    feed_server.status, feed_server.body = status, body
    source = FeedSource(Feed(name="cert", url=feed_server.url), Collect())
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 0
    assert source.health.errors == 1
    assert source.health.detail.startswith(detail)


async def test_unreachable_feed_is_counted() -> None:
    source = FeedSource(Feed(name="cert", url=f"http://127.0.0.1:{free_port()}/x"), Collect())
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 0
    assert source.health.errors == 1
    assert "ClientConnectorError" in source.health.detail


async def test_a_bad_entry_does_not_stop_the_others(feed_server: FeedServer) -> None:
    feed_server.body = rss((1, "poison", "x"), (2, "fine", "y"))
    sink = Collect()
    source = FeedSource(Feed(name="cert", url=feed_server.url), sink)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 1
    assert [m.id for m in sink.messages] == ["cert-2"]
    assert source.health.errors == 1


async def test_hostile_entries(feed_server: FeedServer) -> None:
    feed_server.body = rss(
        (1, "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(2)</script><img onerror=x>"),
        (2, "rtl \u202e mark", "\x01ctl" + "x" * 1_000_000),
        (3, "", ""),
    )
    sink = Collect()
    source = FeedSource(Feed(name="cert", url=feed_server.url), sink)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 3
    texts = [m.text for m in sink.messages]
    assert texts[0] == "<script>alert(1)</script>"  # the title, as text; the script body dropped
    assert len(texts[1]) <= 64 * 1024 and "\u202e" in texts[1]
    assert texts[2] == ""


async def test_run_loop_persists_validators_and_dedupes_in_the_store(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.body = rss((1, "DDoS", "a"), (2, "Відновлено", "b"))
    store = Store(str(tmp_path / "a.db"))
    ann = AnnouncementStore(store, FakeClock())
    await ann.ensure_schema()
    channels = ChannelStore(store, FakeClock())
    await channels.ensure_schema()
    changes: list[str] = []

    async def on_change(change: object) -> None:
        changes.append(change.kind)  # type: ignore[attr-defined]

    sink = recording_sink(ann, lambda message: Classification("other"), on_change)
    polled = asyncio.Event()

    async def sleep(seconds: float) -> None:
        polled.set()
        await asyncio.sleep(3600)

    for _ in range(2):  # a restart: the second run resumes with the saved ETag
        source = FeedSource(Feed(name="cert", url=feed_server.url), sink, channels, sleep=sleep)
        task = asyncio.create_task(source.run())
        await asyncio.wait_for(polled.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        polled.clear()
    assert changes == ["new", "new"]
    assert feed_server.requests[-1]["If-None-Match"] == '"v1"'
    assert len(await ann.list()) == 2
    store.close()


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\nb"),
        ("x &amp; y", "x & y"),
        ("<style>p{}</style>shown", "shown"),
        ("<b>unclosed", "unclosed"),
    ],
)
def test_html_text(html: str, text: str) -> None:
    assert html_text(html) == text


async def test_dates_out_of_range_become_receipt_time(feed_server: FeedServer) -> None:
    dates = [
        "Fri, 31 Dec 9999 23:00:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 +1400",
        "Thu, 01 Jan 1901 00:00:00 GMT",
        "Tue, 15 Feb 2022 16:10:00 +0200",
    ]
    feed_server.body = RSS.format(
        items="".join(
            f"<item><title>DDoS {i}</title><guid>g{i}</guid><pubDate>{d}</pubDate></item>"
            for i, d in enumerate(dates)
        )
    )
    sink = Collect()
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC))
    source = FeedSource(Feed(name="cert", url=feed_server.url), sink, clock=clock)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 4
    when = [m.published_at for m in sink.messages]
    assert when[:3] == [clock.now()] * 3
    assert when[3] == datetime(2022, 2, 15, 14, 10, tzinfo=UTC)
    assert source.health.clamped_times == 3 and source.health.errors == 0


async def test_a_redirect_loop_never_logs_the_query_key(caplog: pytest.LogCaptureFixture) -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.rel_url))  # to itself, query and all

    app = web.Application()
    app.router.add_get("/feed.xml", loop)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://user:pa55word@127.0.0.1:{port}/feed.xml?key=S3CRET-KEY&lang=uk"
    source = FeedSource(Feed(name="cert", url=url), Collect())
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(2):
                assert await source.poll(session) == 0
    finally:
        await runner.cleanup()
    assert source.health.errors == 2 and "TooManyRedirects" in source.health.detail
    logged = caplog.text + source.health.detail
    assert "feed.xml?key=<redacted>" in logged
    assert "S3CRET-KEY" not in logged and "pa55word" not in logged


async def test_an_entry_the_sink_failed_on_is_handed_again(feed_server: FeedServer) -> None:
    """A transient sink failure: not seen, validators held, so the next poll records it."""
    feed_server.body = rss((1, "DDoS", "a"), (2, "Атака", "b"))
    failing = {"cert-2"}
    got: list[str] = []

    async def sink(message: Message) -> None:
        if message.id in failing:
            failing.discard(message.id)
            raise RuntimeError("database is locked")
        got.append(message.id)

    source = FeedSource(Feed(name="cert", url=feed_server.url), sink)
    async with aiohttp.ClientSession() as session:
        assert await source.poll(session) == 1
        assert source.etag is None  # not advanced: the feed is fetched whole again
        assert await source.poll(session) == 1
        assert "If-None-Match" not in feed_server.requests[1]
        assert source.etag == '"v1"'
        assert await source.poll(session) == 0  # now a 304
    assert got == ["cert-1", "cert-2"]
