"""Simulated sites on loopback that answer as the timeline says, and a webhook that records alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from monitor.demo.timeline import Mode

HOST = "127.0.0.1"


@dataclass(frozen=True)
class SiteInfo:
    """A service of the founding case: what the config and the notices call it."""

    name: str
    title: str
    group: str
    host: str
    aliases: tuple[str, ...]


SERVICES: tuple[SiteInfo, ...] = (
    SiteInfo(
        "privatbank",
        "PrivatBank",
        "bank",
        "privatbank.ua",
        ("ПриватБанк", "PrivatBank", "Приват24"),
    ),
    SiteInfo("oschadbank", "Oschadbank", "bank", "oschadbank.ua", ("Ощадбанк", "Oschadbank")),
    SiteInfo("monobank", "monobank", "bank", "monobank.ua", ("monobank", "монобанк")),
    SiteInfo(
        "mod",
        "Ministry of Defence",
        "government",
        "mil.gov.ua",
        ("Міністерство оборони", "Міноборони", "Ministry of Defence", "mil.gov.ua"),
    ),
    SiteInfo(
        "zsu",
        "Armed Forces of Ukraine",
        "government",
        "zsu.gov.ua",
        ("Збройні сили України", "ЗСУ", "Armed Forces of Ukraine", "zsu.gov.ua"),
    ),
    SiteInfo("diia", "Diia", "government", "diia.gov.ua", ("Дія", "Diia", "diia.gov.ua")),
)

ModeFn = Callable[[str], Mode]  # site name -> how it answers right now


def free_port() -> int:
    """A free loopback port (bound and released; the site binds it again at once)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Site:
    """One simulated site: 200, a 503, an answer later than the probe waits, or no listener."""

    def __init__(self, info: SiteInfo, mode: ModeFn, hang: float) -> None:
        self.info = info
        self._mode = mode
        self._hang = hang
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        """Where the daemon probes it."""
        return f"http://{HOST}:{self.port}/"

    async def start(self) -> None:
        """Set up the app (not yet listening: sync() decides that)."""
        app = web.Application()
        app.router.add_get("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()

    async def sync(self) -> None:
        """Listen, or stop listening, as the current mode says (refused = no listener)."""
        refused = self._mode(self.info.name) == "refused"
        if refused and self._site is not None:
            site, self._site = self._site, None
            await site.stop()
        elif not refused and self._site is None and self._runner is not None:
            site = web.TCPSite(self._runner, HOST, self.port, reuse_address=True)
            await site.start()
            self._site = site

    async def stop(self) -> None:
        """Stop listening and release the app."""
        self._site = None
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # Connection: close, so a kept-alive connection cannot outlive a "refused" phase
        headers = {"Connection": "close"}
        mode = self._mode(self.info.name)
        if mode == "timeout":
            await asyncio.sleep(self._hang)  # the probe gives up first; this ends when it does
        if mode in ("error", "refused"):
            return web.Response(status=503, text="Service Unavailable\n", headers=headers)
        if mode == "timeout":
            return web.Response(status=504, text="Gateway Timeout\n", headers=headers)
        body = f"<!doctype html><title>{self.info.title}</title><h1>{self.info.title}</h1>\n"
        return web.Response(text=body, content_type="text/html", headers=headers)


class SiteFarm:
    """All simulated sites; `sync()` is called often so listeners follow the timeline."""

    def __init__(self, mode: ModeFn, hang: float, services: tuple[SiteInfo, ...] = SERVICES):
        self.sites = {s.name: Site(s, mode, hang) for s in services}

    async def start(self) -> None:
        """Set up every site and start listening where the timeline says so."""
        for site in self.sites.values():
            await site.start()
        await self.sync()

    async def sync(self) -> None:
        """Bring every listener in line with its current mode."""
        for site in self.sites.values():
            await site.sync()

    async def stop(self) -> None:
        """Stop every site."""
        for site in self.sites.values():
            with contextlib.suppress(Exception):
                await site.stop()

    def urls(self) -> dict[str, str]:
        """Service name -> URL."""
        return {name: s.url for name, s in self.sites.items()}


class WebhookSink:
    """A local webhook receiver that records every notification it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where the daemon delivers alerts."""
        return f"http://{HOST}:{self.port}/hook"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="not JSON\n")
        if isinstance(body, dict):
            self.received.append(body)
        return web.Response(text="ok\n")
