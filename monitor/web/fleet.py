"""The fleet on the read side: `outwatch_fleet_*` families and the fleet API (/api/v1/fleet/...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric

from monitor.core.vocabulary import SERVICE_STATUSES
from monitor.web.base import Snapshot
from monitor.web.metrics import counter, gauge

# what a fleet read needs: the name of a query (services, incidents, campaigns) and its filter
FleetReader = Callable[[str, str | None], Awaitable[list[dict[str, Any]]]]


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
    yield gauge(
        "outwatch_fleet_service_status",
        "1 for the fleet's status of each service (down, degraded, up, unknown)",
        ["service", "status"],
        [
            ([svc, st], float(v.get("status") == st))
            for svc, v in f.verdicts.items()
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
            [([svc], float(len(v.get(which) or []))) for svc, v in f.verdicts.items()],
        )


def fleet_routes(read: FleetReader) -> list[web.RouteDef]:
    """GET /api/v1/fleet/services|incidents|campaigns, read from the shared database."""

    def handler(what: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            status = request.query.get("status") or None
            try:
                rows = await read(what, status)
            except ConnectionError as exc:
                return web.json_response({"error": str(exc)}, status=503)
            return web.json_response(rows)

        return handle

    return [
        web.get(f"/api/v1/fleet/{what}", handler(what))
        for what in ("services", "incidents", "campaigns")
    ]
