"""The status page in a real headless Chromium: content renders, hostile notices stay text."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.web.statuspage import CONTENT_SECURITY_POLICY, render_status_page
from tests.conftest import free_port, require_binary
from tests.monitor.web.test_statuspage import founding_view

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# If this ever runs, the page title changes and /pwned is requested: both are checked.
HOSTILE = (
    "<script>document.title='pwned'</script>"
    "<img src=/pwned onerror=\"document.title='pwned'\"> \u202egnp.exe\u202c done"
)
CHROMIUM_TIMEOUT = 20.0
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI containers run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


class _Dom(HTMLParser):
    """Element names, the title and visible text of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


@pytest.fixture
async def page_url() -> AsyncIterator[tuple[str, list[str]]]:
    """The founding-case page, with a hostile notice, served on loopback; yields (url, paths seen)."""
    seen: list[str] = []
    view = founding_view(hostile=HOSTILE, url="javascript:document.title='pwned'")

    async def status(request: web.Request) -> web.Response:
        return web.Response(
            text=render_status_page(view),
            content_type="text/html",
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        )

    @web.middleware
    async def record(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.add_routes([web.get("/", status), web.get("/status", status)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        await runner.cleanup()


async def _chromium(binary: str, profile: Path, *args: str) -> str:
    """Run headless Chromium to completion and return its stdout; kill its process group on timeout."""
    proc = await asyncio.create_subprocess_exec(
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CHROMIUM_TIMEOUT)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}"
    return out.decode("utf-8", "replace")


async def test_page_renders_in_chromium(page_url: tuple[str, list[str]], tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    url, seen = page_url

    dom = _Dom()
    dom.feed(await _chromium(chromium, tmp_path / "p1", "--dump-dom", url))
    text = "".join(dom.text)

    assert dom.title.startswith("outwatch · kyiv-1 · 3 down"), dom.title
    for title in (
        "PrivatBank",
        "Oschadbank",
        "Monobank",
        "Ministry of Defence",
        "Armed Forces",
        "Diia",
    ):
        assert title in text
    assert "restored_claim_while_down" in text
    assert "Масована DDoS-атака" in text
    # The hostile notice is on the page as characters, and never became elements.
    assert "<script>document.title='pwned'</script>" in text
    assert "script" not in dom.tags and "img" not in dom.tags

    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in (("phone", "412,915"), ("desktop", "1280,1800")):
        shot = ARTIFACTS / f"statuspage-{name}.png"
        shot.unlink(missing_ok=True)
        await _chromium(
            chromium, tmp_path / name, f"--screenshot={shot}", f"--window-size={size}", url
        )
        assert shot.stat().st_size > 10_000
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Nothing but the page itself was fetched: no external assets, no injected <img>.
    assert set(seen) <= {"/", "/favicon.ico"}, seen


async def test_running_daemon_page_in_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page as a running daemon serves it: real services, a real incident, a hostile notice."""
    from datetime import UTC, datetime

    from monitor import config
    from monitor.core.base import Message
    from monitor.runtime.daemon import Daemon
    from tests.integration.helpers import Target, wait_for

    chromium = require_binary("chromium")
    monkeypatch.chdir(tmp_path)
    up, down = Target(free_port()), Target(free_port())
    await up.start()
    port = free_port()
    (tmp_path / "c.yaml").write_text(
        f"""vantage: browser-1
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 300ms, timeout: 200ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - {{name: privatbank, title: PrivatBank, group: bank, aliases: [ПриватБанк],
      checks: [{{kind: http, url: "{down.url}", id: web}}]}}
  - {{name: diia, title: Diia, group: government, aliases: [Дія],
      checks: [{{kind: http, url: "{up.url}", id: web}}]}}
"""
    )
    d = Daemon(config.load(tmp_path / "c.yaml"), None)
    await d.start()
    try:
        await d.ingest(
            Message(
                "dsszzi",
                "101",
                datetime.now(UTC),
                "DDoS-атака на ПриватБанк. " + HOSTILE,
                url="https://t.me/dsszzi/101",
            )
        )

        async def incident() -> bool:
            return bool(
                await d.store.run(
                    lambda db: db.execute("select count(*) from incidents").fetchone()[0]
                )
            )

        await wait_for(incident, 10, "no incident stored")
        url = f"http://127.0.0.1:{port}/"
        dom = _Dom()
        dom.feed(await _chromium(chromium, tmp_path / "p", "--dump-dom", url))
        text = "".join(dom.text)
        assert "PrivatBank" in text and "Diia" in text
        assert "browser-1" in dom.title
        assert "<script>document.title='pwned'</script>" in text
        assert "script" not in dom.tags and "img" not in dom.tags
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "statuspage-daemon.png"
        shot.unlink(missing_ok=True)
        await _chromium(
            chromium, tmp_path / "s", f"--screenshot={shot}", "--window-size=412,915", url
        )
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        await d.stop(grace=1)
        await up.stop()


class _Svg(HTMLParser):
    """The classes and texts inside the first wide timeline, and every <svg>'s raw markup."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.text: list[str] = []
        self._depth = 0
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and not self._done:
            self._depth += 1
        if self._depth:
            self.classes += [v or "" for k, v in attrs if k == "class"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._depth:
            self._depth -= 1
            self._done = True

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.text.append(data)


async def _poll(url: str, want: Any, timeout: float, what: str) -> Any:
    """GET `url` as JSON until `want(body)` gives something; that something."""
    import aiohttp

    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while asyncio.get_running_loop().time() < deadline:
            async with http.get(url) as resp:
                got = want(await resp.json()) if resp.status == 200 else None
            if got:
                return got
            await asyncio.sleep(0.25)
    pytest.fail(f"{what} within {timeout:.0f}s")


def _oschadbank(body: Any) -> dict[str, Any] | None:
    for inc in body.get("incidents", []):
        flagged = "restored_claim_while_down" in inc["flags"]
        if inc["service"] == "oschadbank" and flagged and len(inc["announcements"]) >= 2:
            return dict(inc)
    return None


async def test_demo_incident_page_in_chromium(tmp_path: Path) -> None:
    """The demo's Oschadbank incident, on its own page as a running daemon serves it."""
    from monitor.demo.run import Options, Replay

    chromium = require_binary("chromium")
    replay = Replay(Options(speed=6.0, view=False), tmp_path)
    await replay.start()
    try:
        base = replay.base_url
        inc = await _poll(f"{base}/api/v1/incidents", _oschadbank, 40, "no flagged Oschadbank")
        iid = inc["id"]
        assert re.fullmatch(r"INC-\d{8}-\d{3}", iid), iid
        page = f"{base}/incidents/{iid}"
        ARTIFACTS.mkdir(exist_ok=True)
        # the status page first, while the wave is still on
        for name, size in (("desktop", "1280,1400"), ("phone", "360,1900")):
            shot = ARTIFACTS / f"statuspage-demo-{name}.png"
            await _chromium(
                chromium,
                tmp_path / f"s{name}",
                f"--screenshot={shot}",
                f"--window-size={size}",
                base,
            )

        html = await _chromium(chromium, tmp_path / "d", "--dump-dom", page)
        dom, svg = _Dom(), _Svg()
        dom.feed(html)
        svg.feed(html)
        assert dom.title.startswith(f"{iid} · Oschadbank"), dom.title
        assert "tl-fail" in svg.classes, "no failing band"
        assert "tl-down" in svg.classes, "no outage band"
        notices = [c for c in svg.classes if c.startswith("tl-notice ")]
        assert "tl-notice k-attack m-asserted" in notices, notices
        assert "tl-notice k-restored m-asserted" in notices, notices
        assert "tl-flag" in svg.classes and "⚑ restored_claim_while_down" in "".join(svg.text)
        assert "tl-member" in svg.classes or "tl-member-open" in svg.classes  # the campaign
        for markup in re.findall(r"<svg.*?</svg>", html, re.S):
            assert not re.search(r"href|url\(|<image|<use|<foreignObject|https?:", markup)
        assert "script" not in dom.tags and "img" not in dom.tags

        ARTIFACTS.mkdir(exist_ok=True)
        for name, size in (("desktop", "1280,1250"), ("phone", "360,1900")):
            shot = ARTIFACTS / f"incident-{name}.png"
            shot.unlink(missing_ok=True)
            await _chromium(
                chromium, tmp_path / name, f"--screenshot={shot}", f"--window-size={size}", page
            )
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        camp = await _poll(
            f"{base}/api/v1/campaigns", lambda b: b.get("campaigns"), 10, "no campaign"
        )
        shot = ARTIFACTS / "campaign-desktop.png"
        await _chromium(
            chromium,
            tmp_path / "c",
            f"--screenshot={shot}",
            "--window-size=1280,900",
            f"{base}/campaigns/{camp[0]['id']}",
        )

        # every alert about the incident, as the demo's webhook received it, links its page
        def about_it() -> list[dict[str, Any]]:
            return [
                a
                for body in replay.webhook.received
                for a in body.get("alerts", [])
                if a.get("annotations", {}).get("incident") == iid
            ]

        deadline = asyncio.get_running_loop().time() + 20
        while not about_it() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.25)
        alerts = about_it()
        assert alerts, "no alert about the incident reached the webhook"
        for a in alerts:
            assert a["generatorURL"] == page, a
            assert a["annotations"]["incident_url"] == page, a
    finally:
        await replay.stop()


async def test_pages_and_old_ids_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages answer by id (sayable and old stored ones), 404 for others, behind the auth."""
    import json
    from datetime import UTC, datetime
    from urllib.parse import quote

    import aiohttp

    from monitor import config
    from monitor.core.base import Message
    from monitor.runtime.daemon import Daemon
    from tests.integration.helpers import Target, wait_for

    monkeypatch.chdir(tmp_path)
    down = Target(free_port())  # never started: refused
    port = free_port()
    (tmp_path / "c.yaml").write_text(
        f"""vantage: pages-1
web: {{listen: "127.0.0.1:{port}", auth: {{tokens: [page-token-0123456789]}}}}
defaults: {{interval: 300ms, timeout: 200ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - {{name: privatbank, title: PrivatBank, group: bank, aliases: [ПриватБанк],
      checks: [{{kind: http, url: "{down.url}", id: web}}]}}
"""
    )
    d = Daemon(config.load(tmp_path / "c.yaml"), None)
    await d.start()
    old = "privatbank@2022-02-15T12:00:00+00:00"
    try:
        await d.ingest(Message("dsszzi", "1", datetime.now(UTC), "DDoS-атака на ПриватБанк."))

        async def stored() -> bool:
            n = await d.store.run(
                lambda db: db.execute("select count(*) from incidents").fetchone()
            )
            return bool(n[0])

        await wait_for(stored, 10, "no incident stored")
        row = {
            "id": old,
            "service": "privatbank",
            "group": "bank",
            "status": "resolved",
            "started_at": "2022-02-15T12:00:00+00:00",
            "ended_at": "2022-02-15T13:00:00+00:00",
            "outages": "[]",
            "announcements": "{}",
            "flags": "[]",
            "evidence": json.dumps({"signature": {"timeout": 3}}),
        }
        await d.store.run(lambda db: db.table("incidents").insert(row))
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": "Bearer page-token-0123456789"}
        async with aiohttp.ClientSession() as http:
            (new,) = [
                i
                for i in (await (await http.get(f"{base}/api/v1/incidents", headers=auth)).json())[
                    "incidents"
                ]
                if i["id"] != old
            ]
            assert re.fullmatch(r"INC-\d{8}-001", new["id"])
            for path in (f"/incidents/{new['id']}", f"/incidents/{quote(old, safe='@')}"):
                async with http.get(base + path) as resp:
                    assert resp.status == 401, path  # the pages are behind web.auth
                async with http.get(base + path, headers=auth) as resp:
                    assert resp.status == 200, path
                    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
                    assert "<svg" in await resp.text()
            async with http.get(
                f"{base}/api/v1/incidents/{quote(old, safe='@')}", headers=auth
            ) as r:
                assert r.status == 200 and (await r.json())["id"] == old
            for path in ("/incidents/INC-20000101-001", "/campaigns/CMP-20000101-01"):
                async with http.get(base + path, headers=auth) as resp:
                    assert resp.status == 404, path
    finally:
        await d.stop(grace=1)
