"""POST /api/v1/announcements: other tools forward notices, with a bearer token and a rate limit."""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError

from monitor.config import Ingest
from monitor.core.base import Clock, Message, SystemClock
from monitor.core.text import MAX_TEXT, clean_text
from monitor.core.timebounds import TimeRangeError, bounded
from monitor.sources.base import Sink, SourceHealth

log = logging.getLogger("outwatch.sources.ingest")

PATH = "/api/v1/announcements"
MAX_BODY = 256 * 1024
PREFIX = (
    "ingest:"  # ingested sources live apart, so a token cannot rewrite a Telegram channel's notices
)


class IngestBody(BaseModel):
    """The JSON body of one forwarded notice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    id: str | StrictInt = Field(union_mode="left_to_right")
    text: str = Field(max_length=MAX_TEXT)
    published_at: AwareDatetime
    url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2048)

    def message(self, now: datetime) -> Message:
        """The message this body forwards; raises TimeRangeError for a time the core cannot use."""
        return Message(
            source=PREFIX + self.source,
            id=str(self.id),
            published_at=bounded(self.published_at, now),
            text=clean_text(self.text),
            url=self.url,
        )


_MESSAGES = {"missing": "required", "extra_forbidden": "unknown field"}


def parse_body(raw: bytes, now: datetime) -> Message:
    """Validate a request body; raises ValueError with one line naming the bad field."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError("body is not valid JSON: nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise ValueError(f"body is not valid JSON: {reason}") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object with source, id, text, published_at")
    try:
        body = IngestBody.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        fields = list(dict.fromkeys(str(e["loc"][0]) if e["loc"] else "body" for e in errors))
        first = errors[0]
        message = _MESSAGES.get(first["type"], first["msg"])
        if fields[0] == "id" and len(first["loc"]) > 1:  # the str | int union: say it plainly
            message = "must be a string or an integer"
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        raise ValueError(f"{fields[0]}: {message}{more}") from None
    if not str(body.id).strip() or len(str(body.id)) > 200:
        raise ValueError("id: must be 1 to 200 characters")
    try:
        return body.message(now)
    except TimeRangeError as exc:
        raise ValueError(f"published_at: {exc}") from None


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per API token: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def allow(self, token: int) -> bool:
        """Take one request from this token's bucket, if there is one left."""
        now = self.clock.monotonic()
        bucket = self._buckets.setdefault(token, _Bucket(self.capacity, now))
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status, headers=headers)


def _token_index(cfg: Ingest, header: str) -> int | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    found = None
    for i, token in enumerate(cfg.tokens):
        # compare against every token, so timing does not tell which one nearly matched
        if hmac.compare_digest(value.strip().encode(), token.get_secret_value().encode()):
            found = i
    return found


async def _read(request: web.Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class IngestEndpoint:
    """The ingest endpoint; `reconfigure` swaps tokens and rate limit in place (a reload)."""

    def __init__(
        self, cfg: Ingest, sink: Sink, health: SourceHealth, clock: Clock | None = None
    ) -> None:
        self.sink = sink
        self.health = health
        self.clock = clock or SystemClock()
        self.cfg = cfg
        self.limiter = RateLimiter(cfg.rate_limit_per_minute, self.clock)
        health.connected = True

    def reconfigure(self, cfg: Ingest) -> None:
        """New tokens or rate limit, from the next request on: a removed token stops working."""
        if cfg != self.cfg:
            # buckets are kept per token index: new tokens or a new rate start afresh
            self.limiter = RateLimiter(cfg.rate_limit_per_minute, self.clock)
        self.cfg = cfg

    def routes(self) -> list[web.RouteDef]:
        """The route for the daemon's web app."""
        return [web.post(PATH, self.post)]

    async def post(self, request: web.Request) -> web.Response:
        """Accept one forwarded notice."""
        cfg, health = self.cfg, self.health
        if not cfg.tokens:
            return _error(403, "ingest is off: set sources.ingest.tokens in the config")
        token = _token_index(cfg, request.headers.get("Authorization", ""))
        if token is None:
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if not self.limiter.allow(token):
            retry = max(1, round(60 / cfg.rate_limit_per_minute))
            return _error(
                429,
                f"rate limit of {cfg.rate_limit_per_minute} per minute exceeded",
                {"Retry-After": str(retry)},
            )
        raw = await _read(request)
        if raw is None:
            health.errors += 1
            return _error(413, f"body larger than {MAX_BODY // 1024} KB")
        try:
            message = parse_body(raw, self.clock.now())
        except ValueError as exc:
            health.errors += 1
            return _error(400, str(exc))
        try:
            await self.sink(message)
        except Exception:
            health.errors += 1
            log.exception("ingest: could not record %s/%s", message.source, message.id)
            return _error(503, "could not record the message; retry later")
        health.last_message_at = self.clock.now()
        return web.json_response(
            {"status": "accepted", "source": message.source, "id": message.id}, status=202
        )


def ingest_routes(
    cfg: Ingest, sink: Sink, health: SourceHealth, clock: Clock | None = None
) -> list[web.RouteDef]:
    """The ingest endpoint with a fixed config (tests and tools; the daemon keeps the endpoint)."""
    return IngestEndpoint(cfg, sink, health, clock).routes()
