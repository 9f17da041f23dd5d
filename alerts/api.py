"""HTTP API for silences and alerts (aiohttp routes; the daemon adds authentication around them)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from alerts.dispatcher import AlertView, Dispatcher
from alerts.matchers import MatcherModel
from alerts.webhook import alert_json

# where /api/v1/alerts reads from instead of the dispatcher (a fleet's shared alerts); raises
# ConnectionError when that source is unreachable
AlertReader = Callable[[], Awaitable[list[AlertView]]]


class SilenceBody(BaseModel):
    """POST /api/v1/silences, Alertmanager's shape."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    matchers: list[MatcherModel] = Field(min_length=1)
    starts_at: AwareDatetime | None = Field(default=None, alias="startsAt")
    ends_at: AwareDatetime = Field(alias="endsAt")
    created_by: str = Field(default="", alias="createdBy", max_length=200)
    comment: str = Field(default="", max_length=2000)


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    msg = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
        err["type"], err["msg"].removeprefix("Value error, ")
    )
    return f"{where}: {msg}"


def _view(v: AlertView) -> dict[str, Any]:
    out = alert_json(v.alert)
    out["status"] = {
        "state": v.state,
        "silencedBy": list(v.silenced_by),
        "inhibitedBy": list(v.inhibited_by),
    }
    out["receivers"] = list(v.receivers)
    return out


def silence_routes(dispatcher: Dispatcher, read: AlertReader | None = None) -> list[web.RouteDef]:
    """POST/GET /api/v1/silences, DELETE /api/v1/silences/{id}, GET /api/v1/alerts (from `read`
    when given, else the dispatcher's)."""

    async def create(request: web.Request) -> web.Response:
        try:
            raw = json.loads(await request.text())
        except (ValueError, UnicodeDecodeError):
            return _problem(400, "the body is not valid JSON")
        try:
            body = SilenceBody.model_validate(raw)
        except ValidationError as exc:
            return _problem(400, _first_error(exc))
        now = dispatcher.now()
        starts = body.starts_at or now
        if body.ends_at <= max(starts, now):
            return _problem(400, "endsAt must be in the future and after startsAt")
        if all(m.to_matcher().matches({}) for m in body.matchers):
            return _problem(400, "matchers: at least one must not match an empty label set")
        s = await dispatcher.add_silence(
            [m.to_matcher() for m in body.matchers],
            starts_at=starts,
            ends_at=body.ends_at,
            created_by=body.created_by,
            comment=body.comment,
            silence_id=body.id,
        )
        return web.json_response({"silenceID": s.id})

    async def listing(request: web.Request) -> web.Response:
        now = dispatcher.now()
        return web.json_response([s.to_api(now) for s in dispatcher.all_silences()])

    async def delete(request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        if sid.startswith("config:"):
            return _problem(400, "silences from the config file are changed in the config file")
        if not await dispatcher.expire_silence(sid):
            return _problem(404, f"no silence with id {sid!r}")
        return web.json_response({})

    async def alerts(request: web.Request) -> web.Response:
        if read is None:
            return web.json_response([_view(v) for v in dispatcher.alert_views()])
        try:
            return web.json_response([_view(v) for v in await read()])
        except ConnectionError as exc:
            return _problem(503, str(exc))

    return [
        web.post("/api/v1/silences", create),
        web.get("/api/v1/silences", listing),
        web.delete("/api/v1/silences/{id}", delete),
        web.get("/api/v1/alerts", alerts),
    ]
