"""The JSON API and the status page's data, read from a snapshot and the stores."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from monitor.store import db as store
from monitor.store import incidents as incident_store
from monitor.store.announcements import AnnouncementStore
from monitor.web.base import Snapshot
from monitor.web.families import families
from monitor.web.fleet import FleetReader, fleet_families, with_fleet_status
from monitor.web.metrics import render
from monitor.web.statuspage import StatusView, render_status_page


class Api:
    """What the web server reads and asks (server.WebView), over a snapshot taken per request."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        reload: Callable[[], Awaitable[tuple[bool, str]]],
        db: store.Store,
        announcements: AnnouncementStore,
        fleet: FleetReader | None = None,
    ) -> None:
        self.snapshot = snapshot
        self._reload = reload
        self.db = db
        self.announcements = announcements
        # in a fleet (storage.url), incidents and campaigns are the fleet's (web/fleet.py)
        self.fleet = fleet

    def metrics_text(self) -> bytes:
        """/metrics body."""
        snap = self.snapshot()
        return render(snap, [*families(snap), *fleet_families(snap)])

    def ready(self) -> tuple[bool, str]:
        """Ready when started (the store may be down: probing goes on from memory)."""
        snap = self.snapshot()
        if not snap.started:
            return False, "starting"
        return True, "ok" if snap.store_up else "store unavailable; running from memory"

    async def reload(self) -> tuple[bool, str]:
        """Reload the config file."""
        return await self._reload()

    async def api_services(self) -> list[dict[str, Any]]:
        """Current status of each service and its checks (and, in a fleet, the fleet's status
        with which vantages see what)."""
        rows = services(self.snapshot())
        if self.fleet is not None:
            await with_fleet_status(self.fleet, rows)
        return rows

    async def api_outages(self, service: str | None, limit: int) -> list[dict[str, Any]]:
        """Stored outages, newest first."""
        return await self.db.run(lambda db: store.list_outages(db, service, limit))

    async def api_incidents(
        self, status: str | None, service: str | None, since: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Stored incidents, newest first."""
        if self.fleet is not None:
            with contextlib.suppress(ConnectionError):  # cut off: this instance's own
                return await self.fleet(
                    "incidents", status=status, service=service, since=since, limit=limit
                )
        return await self.db.run(
            lambda db: incident_store.list_incidents(db, status, service, since, limit)
        )

    async def api_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident with its evidence and its notices (text, kind, link)."""
        row = None
        if self.fleet is not None:
            with contextlib.suppress(ConnectionError):
                row = next(iter(await self.fleet("incidents", incident=incident_id)), None)
        if row is None:
            row = await self.db.run(lambda db: incident_store.get_incident(db, incident_id))
        if row is not None:
            row["notices"] = await self._notices(row.get("announcements") or {})
        return row

    async def _notices(self, keys: Any) -> list[dict[str, Any]]:
        out = []
        for key in keys:
            source, _, mid = str(key).rpartition("/")
            ann = await self.announcements.get(source, mid)
            if ann is not None:
                m = ann.message
                out.append(
                    {
                        "key": key,
                        "kind": ann.kind,
                        "text": m.text,
                        "url": m.url,
                        "published_at": m.published_at.isoformat(),
                        "deleted": m.deleted,
                    }
                )
        return out

    async def api_campaigns(
        self, status: str | None, since: datetime | None
    ) -> list[dict[str, Any]]:
        """Stored campaigns, newest first."""
        if self.fleet is not None:
            with contextlib.suppress(ConnectionError):
                return await self.fleet("campaigns", status=status, since=since)
        return await self.db.run(lambda db: incident_store.list_campaigns(db, status, since))

    async def api_announcements(
        self,
        since: datetime | None,
        limit: int,
        source: str | None,
        kind: str | None,
        service: str | None,
    ) -> list[dict[str, Any]]:
        """Stored announcements, newest first."""
        return await self.announcements.list(since, limit, source, kind, service)

    async def status_page(self) -> str:
        """The HTML status page."""
        snap = self.snapshot()
        now = snap.now
        outages = await self.api_outages(None, 1000)
        svcs = services(snap)
        for s in svcs:
            s["availability"] = {
                "24h": availability(outages, s["name"], now, timedelta(hours=24)),
                "7d": availability(outages, s["name"], now, timedelta(days=7)),
            }
        incidents = await self.api_incidents(None, None, now - timedelta(days=7), 30)
        for inc in incidents:
            inc["announcements"] = await self._notices(inc.get("announcements") or {})
        view = StatusView(
            vantage=snap.vantage,
            generated_at=now,
            vantage_offline=snap.offline_since is not None,
            services=svcs,
            incidents=incidents,
            campaigns=await self.api_campaigns(None, now - timedelta(days=7)),
            announcements=await self.api_announcements(None, 20, None, None, None),
        )
        return render_status_page(view)


def services(snap: Snapshot) -> list[dict[str, Any]]:
    """Current status of each service and its checks, as API data."""
    p = snap.probes
    out = []
    for svc in snap.services:
        outage = p.open_outages.get(svc.name)
        out.append(
            {
                "name": svc.name,
                "title": svc.display,
                "group": svc.group,
                "status": p.statuses.get(svc.name, "unknown"),
                "boosted": svc.name in snap.boosted,
                "outage": None
                if outage is None
                else {
                    "started_at": outage.started_at.isoformat(),
                    "signature": dict(outage.signature),
                },
                "checks": [_check(snap, svc.name, c) for c in svc.checks],
            }
        )
    return out


def _check(snap: Snapshot, service: str, c: Any) -> dict[str, Any]:
    last = snap.probes.last.get((service, c.id))
    r = None if last is None else last.result
    return {
        "id": c.id,
        "kind": c.kind,
        "target": c.endpoint(),
        "critical": c.critical,
        "state": snap.probes.check_states.get((service, c.id), "unknown"),
        "interval": snap.intervals.get(f"{service}/{c.id}") or c.interval,
        "last": None
        if last is None or r is None
        else {
            "at": last.at.isoformat(),
            "ok": r.ok,
            "error": r.error,
            "detail": r.detail,
            "duration": round(r.duration, 4),
            "status_code": r.status_code,
            "phases": {k: round(v, 4) for k, v in r.phases.items()},
        },
    }


def availability(
    outages: list[dict[str, Any]], service: str, now: datetime, span: timedelta
) -> float | None:
    """Share of `span` up to `now` the service spent outside outages (None with no data)."""
    start = now - span
    down = timedelta()
    for o in outages:
        if o["service"] != service:
            continue
        began = datetime.fromisoformat(o["started_at"])
        ended = datetime.fromisoformat(o["ended_at"]) if o.get("ended_at") else now
        lo, hi = max(began, start), min(ended, now)
        if hi > lo:
            down += hi - lo
    return round(1 - down / span, 4)
