"""The HTTP server: /metrics, health, the JSON API and (later) the status page; auth in one middleware."""

from __future__ import annotations

import base64
import hmac
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import bcrypt
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from alerts.base import parse_duration
from monitor.config import Web
from monitor.core.timebounds import TimeRangeError, bounded
from monitor.vocabulary import ANNOUNCEMENT_KINDS
from monitor.web.statuspage import CONTENT_SECURITY_POLICY

PIECE = 2048  # /metrics chunks joined per write: ~250 KB of per-check lines

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths that always need credentials: they change state or accept data.
ALWAYS_PROTECTED = ("/-/reload", "/api/v1/silences")
OPEN = ("/healthz", "/readyz")
PAGES = ("/incidents/", "/campaigns/")  # HTML pages: protected like the status page


class WebView(Protocol):
    """What the web layer reads from and asks of the daemon."""

    async def metrics_text(self) -> list[bytes]: ...

    def ready(self) -> tuple[bool, str]: ...

    async def api_services(self) -> list[dict[str, Any]]: ...

    async def api_outages(self, service: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def reload(self) -> tuple[bool, str]: ...

    async def api_incidents(
        self, status: str | None, service: str | None, since: datetime | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def api_incident(self, incident_id: str) -> dict[str, Any] | None: ...

    async def api_campaigns(
        self, status: str | None, since: datetime | None
    ) -> list[dict[str, Any]]: ...

    async def api_announcements(
        self,
        since: datetime | None,
        limit: int,
        source: str | None,
        kind: str | None,
        service: str | None,
    ) -> list[dict[str, Any]]: ...

    async def status_page(self) -> str: ...

    async def incident_page(self, incident_id: str) -> str | None: ...

    async def campaign_page(self, campaign_id: str) -> str | None: ...


VIEW = web.AppKey("view", WebView)


def _authorised(cfg: Web, header: str) -> bool:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if not value:
        return False  # `Bearer` with nothing after it: never a credential, whatever the config
    if scheme.lower() == "bearer":
        return any(
            hmac.compare_digest(value.encode(), t.get_secret_value().encode())
            for t in cfg.auth.tokens
        )
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        hashed = cfg.auth.basic.get(user)
        if hashed is None:
            return False
        try:
            return bcrypt.checkpw(password.encode(), hashed.get_secret_value().encode())
        except ValueError:
            return False
    return False


def auth_middleware(cfg: Web) -> Any:
    """Require credentials where the config asks for them, and always for state-changing paths."""
    configured = bool(cfg.auth.tokens or cfg.auth.basic)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in OPEN or (path == "/api/v1/announcements" and request.method == "POST"):
            return await handler(request)  # ingest checks its own tokens
        page = path in ("/", "/status") or path.startswith(PAGES)
        needs = path.startswith(ALWAYS_PROTECTED) or (
            configured
            and (
                path.startswith("/api/")
                or page
                or (path in ("/metrics", "/probe") and cfg.auth.protect_metrics)
            )
        )
        if needs:
            if not configured:
                return _error(403, "this endpoint needs web.auth (tokens or basic) in the config")
            if not _authorised(cfg, request.headers.get("Authorization", "")):
                return _error(
                    401,
                    "missing or wrong credentials",
                    {"WWW-Authenticate": 'Bearer, Basic realm="outwatch"'},
                )
        return await handler(request)

    return middleware


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status, headers=headers)


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus exposition, written a piece at a time from the renderer's chunks."""
    chunks = await request.app[VIEW].metrics_text()
    # not compressed: on one core, gzip of a 10,000-check exposition made scrapes slower
    # (bench/scale.py: median 259 -> 454 ms), since the compressing thread shares the core;
    # level 1 is ~47 ms for its 20 MB (13x smaller), and the scraper decompresses it too
    resp = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE_LATEST})
    resp.content_length = sum(map(len, chunks))
    await resp.prepare(request)
    if request.method != "HEAD":
        for i in range(0, len(chunks), PIECE):
            await resp.write(b"".join(chunks[i : i + PIECE]))
    await resp.write_eof()
    return resp


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: config loaded, scheduler running, store reachable."""
    ok, detail = request.app[VIEW].ready()
    return web.json_response(
        {"status": "ok" if ok else "not ready", "detail": detail}, status=200 if ok else 503
    )


async def services(request: web.Request) -> web.Response:
    """Current status of each service and check."""
    return web.json_response({"services": await request.app[VIEW].api_services()})


async def outages(request: web.Request) -> web.Response:
    """Outages, newest first (?service=, ?limit=)."""
    try:
        limit = min(int(request.query.get("limit", "100")), 1000)
    except ValueError:
        return _error(400, "limit must be an integer")
    rows = await request.app[VIEW].api_outages(request.query.get("service"), limit)
    return web.json_response({"outages": rows})


class BadQuery(ValueError):
    """A query parameter that cannot be used; the message names it."""


def _since(request: web.Request) -> datetime | None:
    """`?since=` as ISO 8601 or a duration back from now (`6h`)."""
    raw = request.query.get("since")
    if not raw:
        return None
    now = datetime.now(UTC)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = now - timedelta(seconds=parse_duration(raw))
        except (ValueError, OverflowError):
            raise BadQuery("since must be an ISO 8601 time or a duration like 6h") from None
    try:
        return bounded(when if when.tzinfo else when.replace(tzinfo=UTC), now)
    except TimeRangeError as exc:
        raise BadQuery(f"since: {exc}") from None


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}")
    return value


def _limit(request: web.Request, default: int = 100) -> int:
    try:
        return max(1, min(int(request.query.get("limit", str(default))), 1000))
    except ValueError:
        raise BadQuery("limit must be an integer") from None


async def incidents(request: web.Request) -> web.Response:
    """Incidents (?status=open|resolved, ?service=, ?since=, ?limit=)."""
    try:
        status = _choice(request, "status", ("open", "resolved"))
        since, limit = _since(request), _limit(request)
    except BadQuery as exc:
        return _error(400, str(exc))
    rows = await request.app[VIEW].api_incidents(status, request.query.get("service"), since, limit)
    return web.json_response({"incidents": rows})


async def incident(request: web.Request) -> web.Response:
    """One incident with its evidence and announcements."""
    row = await request.app[VIEW].api_incident(request.match_info["id"])
    if row is None:
        return _error(404, "no such incident")
    return web.json_response(row)


async def campaigns(request: web.Request) -> web.Response:
    """Campaigns (?status=open|closed, ?since=)."""
    try:
        status = _choice(request, "status", ("open", "closed"))
        since = _since(request)
    except BadQuery as exc:
        return _error(400, str(exc))
    return web.json_response({"campaigns": await request.app[VIEW].api_campaigns(status, since)})


async def announcements(request: web.Request) -> web.Response:
    """Announcements (?since=, ?source=, ?kind=, ?service=, ?limit=)."""
    try:
        kind = _choice(request, "kind", ANNOUNCEMENT_KINDS)
        since, limit = _since(request), _limit(request)
    except BadQuery as exc:
        return _error(400, str(exc))
    q = request.query
    rows = await request.app[VIEW].api_announcements(
        since, limit, q.get("source"), kind, q.get("service")
    )
    return web.json_response({"announcements": rows})


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
        },
    )


async def status_page(request: web.Request) -> web.Response:
    """The HTML status page for people without Grafana."""
    return _html(await request.app[VIEW].status_page())


async def incident_page(request: web.Request) -> web.Response:
    """One incident's page: its timeline, notices and evidence."""
    body = await request.app[VIEW].incident_page(request.match_info["id"])
    return _html(body) if body is not None else _html(_NOT_FOUND.format(what="incident"), 404)


async def campaign_page(request: web.Request) -> web.Response:
    """One campaign's page: its members on one axis."""
    body = await request.app[VIEW].campaign_page(request.match_info["id"])
    return _html(body) if body is not None else _html(_NOT_FOUND.format(what="campaign"), 404)


_NOT_FOUND = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>not found</title></head>'
    '<body><p>No such {what}. <a href="/">Status page</a></p></body></html>\n'
)


async def reload(request: web.Request) -> web.Response:
    """Reload the config (like Prometheus's /-/reload)."""
    ok, detail = await request.app[VIEW].reload()
    return web.json_response(
        {"status": "ok" if ok else "error", "detail": detail}, status=200 if ok else 400
    )


def make_app(
    cfg: Web, view: WebView, extra_routes: list[web.RouteDef] | None = None
) -> web.Application:
    """The aiohttp application."""
    app = web.Application(middlewares=[auth_middleware(cfg)], client_max_size=1 << 20)
    app[VIEW] = view
    app.add_routes(
        [
            web.get("/metrics", metrics),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/api/v1/services", services),
            web.get("/api/v1/outages", outages),
            web.get("/api/v1/incidents", incidents),
            web.get("/api/v1/incidents/{id}", incident),
            web.get("/api/v1/campaigns", campaigns),
            web.get("/api/v1/announcements", announcements),
            web.get("/", status_page),
            web.get("/status", status_page),
            web.get("/incidents/{id}", incident_page),
            web.get("/campaigns/{id}", campaign_page),
            web.post("/-/reload", reload),
            *(extra_routes or []),
        ]
    )
    return app


def ssl_context(cfg: Web) -> ssl.SSLContext | None:
    """Server TLS context when web.tls is configured."""
    if cfg.tls is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.tls.cert_path, cfg.tls.key_path)
    return ctx


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9464' -> ('127.0.0.1', 9464); '[::1]:9464' works too."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
