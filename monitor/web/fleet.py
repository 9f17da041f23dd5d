"""The fleet on the read side: `outwatch_fleet_*` families and the fleet API (/api/v1/fleet/...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from html import escape
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric

from monitor.vocabulary import SERVICE_STATUSES, VANTAGE_SEEN, VANTAGE_VIEWS
from monitor.web.base import Snapshot
from monitor.web.metrics import counter, gauge
from monitor.web.statuspage import CONTENT_SECURITY_POLICY, CSS, STATUS_LABEL, STATUS_MARK

# a read of the shared database: the name of a query (services, incidents, campaigns,
# announcements) and its filters as keywords; raises ConnectionError when the database is
# unreachable, at once while the instance knows it is cut off (runtime/fleet.py)
FleetReader = Callable[..., Awaitable[list[dict[str, Any]]]]


def fleet_families(s: Snapshot) -> Iterator[Metric]:
    """The decider flag on every instance; fleet status on the decider."""
    f = s.fleet
    if f is None:
        return
    labels = ["instance", "vantage"]
    me = [f.instance, s.vantage]
    yield gauge(
        "outwatch_fleet_decider",
        "1 on the fleet's decider, 0 elsewhere",
        labels,
        [(me, float(f.decider))],
    )
    yield gauge(
        "outwatch_fleet_database_up",
        "1 while the shared database is reachable",
        labels,
        [(me, float(f.connected))],
    )
    yield gauge(
        "outwatch_fleet_cut_off",
        "1 while this instance spools its decisions locally for want of the database",
        labels,
        [(me, float(f.cut_off_since is not None))],
    )
    yield gauge(
        "outwatch_fleet_spool_bytes",
        "Bytes waiting in the local spool",
        labels,
        [(me, float(f.spool_bytes))],
    )
    yield counter(
        "outwatch_fleet_spool_dropped",
        "Spool records dropped because the spool was full",
        labels,
        [(me, float(f.spool_dropped))],
    )
    if not f.decider:
        return
    yield counter(
        "outwatch_fleet_notifications_sent",
        "Fleet notifications delivered by this decider",
        labels,
        [(me, float(f.sent))],
    )
    yield from _service_families(f.verdicts)


class _Latest:
    """The per-service families last made, and the verdicts they were made from: the decider
    hands the same mapping until a verdict changes (runtime/decider.py), so a scrape of 10,000
    services takes them as they are instead of remaking them on the event loop."""

    verdicts: Mapping[str, Mapping[str, Any]] | None = None
    families: tuple[Metric, ...] = ()


def _service_families(verdicts: Mapping[str, Mapping[str, Any]]) -> tuple[Metric, ...]:
    if _Latest.verdicts is not verdicts:
        _Latest.families = tuple(_make_service_families(verdicts))
        _Latest.verdicts = verdicts
    return _Latest.families


def _make_service_families(verdicts: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
    yield gauge(
        "outwatch_fleet_service_status",
        "1 for the fleet's status of each service (down, degraded, up, unknown)",
        ["service", "status"],
        [
            ([svc, st], float(v.get("status") == st))
            for svc, v in verdicts.items()
            for st in SERVICE_STATUSES
        ],
    )
    for which in ("down", "degraded", "up", "absent"):
        yield gauge(
            f"outwatch_fleet_vantages_{which}",
            f"How many vantages see each service {which}"
            if which != "absent"
            else "Vantages absent (offline or silent)",
            ["service"],
            [([svc], float(len(v.get(which) or []))) for svc, v in verdicts.items()],
        )


def _t(value: Any, limit: int = 120) -> str:
    return escape(" ".join(str(value if value is not None else "").split())[:limit], quote=True)


def _badge(status: Any) -> str:
    st = status if status in STATUS_LABEL else "unknown"
    return f'<span class="badge s-{st}"><span aria-hidden="true">{STATUS_MARK[st]}</span> {STATUS_LABEL[st]}</span>'


def _service(row: Mapping[str, Any]) -> str:
    found = row.get("vantages")
    v: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    lines = []
    for view in VANTAGE_VIEWS:
        names = [str(n) for n in (v.get(view) or [])]
        if names:
            lines.append(f"<li>{_t(VANTAGE_SEEN[view])} {_t(', '.join(names))}</li>")
    st = row.get("status") if row.get("status") in STATUS_LABEL else "unknown"
    return (
        f'<li class="svc s-{st}"><div class="svc-head"><span class="svc-title">{_t(row.get("service"))}</span>'
        f'{_badge(st)}</div><ul class="checks muted">{"".join(lines)}</ul></li>'
    )


def _incident(inc: Mapping[str, Any]) -> str:
    state = "open" if inc.get("status") == "open" else "resolved"
    seen = "observed" if inc.get("observed") else ""
    said = "announced" if inc.get("announced") else ""
    return (
        f'<li class="incident {state}"><strong>{_t(inc.get("service"))}</strong> · {_t(state)}'
        f" · since {_t(inc.get('started_at'), 40)}"
        f'<div class="muted">{_t(" + ".join(x for x in (seen, said) if x) or "-")}'
        f"{' · campaign ' + _t(inc.get('campaign')) if inc.get('campaign') else ''}</div></li>"
    )


def render_fleet_page(
    services: Sequence[Mapping[str, Any]],
    incidents: Sequence[Mapping[str, Any]],
    campaigns: Sequence[Mapping[str, Any]],
) -> str:
    """The fleet's status page: each service's fleet status and which vantages see what."""
    down = sum(1 for s in services if s.get("status") == "down")
    open_c = [c for c in campaigns if c.get("status") == "open"]
    camp = "".join(
        f'<div class="banner">Campaign: {_t(", ".join(str(x) for x in c.get("services") or []))}'
        f" · since {_t(c.get('started_at'), 40)}</div>"
        for c in open_c
    )
    incs = "".join(_incident(i) for i in incidents[:30]) or '<li class="muted">None.</li>'
    svcs = "".join(_service(s) for s in services) or '<li class="muted">No fleet status yet.</li>'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="15"><meta name="referrer" content="no-referrer">'
        f"<title>outwatch fleet · {down} down</title><style>{CSS}</style></head><body>"
        f'<header><h1>outwatch <span class="muted">fleet</span></h1>'
        f'<p class="muted">{len(services)} services · {down} down</p></header><main>{camp}'
        f'<section><h2>Incidents</h2><ul class="incidents">{incs}</ul></section>'
        f'<section><h2>Services</h2><ul class="services">{svcs}</ul></section>'
        "</main></body></html>\n"
    )


async def with_fleet_status(read: FleetReader, rows: list[dict[str, Any]]) -> None:
    """Add each service's fleet status and per-vantage breakdown to /api/v1/services rows
    (`fleet: null` while the shared database is unreachable)."""
    try:
        fleet = {r["service"]: r for r in await read("services")}
    except ConnectionError:
        fleet = {}
    for row in rows:
        found = fleet.get(row["name"])
        row["fleet"] = None if found is None else {"status": found["status"], **found["vantages"]}


async def fleet_incident(read: FleetReader | None, incident_id: str) -> dict[str, Any] | None:
    """The fleet's incident of that id (None: not in the fleet, or the database unreachable)."""
    if read is None:
        return None
    try:
        return next(iter(await read("incidents", incident=incident_id)), None)
    except ConnectionError:
        return None


async def fleet_campaign(
    read: FleetReader | None, campaign_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The fleet's campaign of that id with its member incidents (None: not in the fleet, or
    the database unreachable)."""
    if read is None:
        return None
    try:
        # campaigns are few (one per wave): the open and recent ones are all read
        found = [c for c in await read("campaigns") if c.get("id") == campaign_id]
        if not found:
            return None
        members = [await read("incidents", incident=str(i)) for i in found[0].get("incidents", [])]
    except ConnectionError:
        return None
    return found[0], [row for rows in members for row in rows]


def fleet_routes(read: FleetReader) -> list[web.RouteDef]:
    """GET /api/v1/fleet/services|incidents|campaigns and the /fleet page, read from the shared
    database by whichever instance is asked."""

    def handler(what: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            status = request.query.get("status") or None
            try:
                rows = await read(what, **({"status": status} if what != "services" else {}))
            except ConnectionError as exc:
                return web.json_response({"error": str(exc)}, status=503)
            return web.json_response(rows)

        return handle

    async def page(request: web.Request) -> web.Response:
        try:
            body = render_fleet_page(
                await read("services"),
                await read("incidents", limit=30),
                await read("campaigns", limit=30),
            )
        except ConnectionError as exc:
            return web.Response(status=503, text=str(exc))
        return web.Response(
            text=body,
            content_type="text/html",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
            },
        )

    reads = ("services", "incidents", "campaigns")
    return [*(web.get(f"/api/v1/fleet/{w}", handler(w)) for w in reads), web.get("/fleet", page)]
