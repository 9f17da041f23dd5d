"""The JSON API and the status page's data, read from a snapshot and the stores."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.core.base import Claim, claim_dict
from monitor.store import db as store
from monitor.store import incidents as incident_store
from monitor.store.announcements import AnnouncementStore
from monitor.web.base import Snapshot
from monitor.web.families import families
from monitor.web.fleet import (
    FleetReader,
    fleet_campaign,
    fleet_families,
    fleet_incident,
    with_fleet_status,
)
from monitor.web.metrics import CheckLines, render_chunks
from monitor.web.pages import (
    CampaignView,
    IncidentView,
    health_bar,
    render_campaign_page,
    render_incident_page,
    thumbnail_svg,
)
from monitor.web.probe import OnDemand
from monitor.web.statuspage import StatusView, render_status_page

MAX_THUMBNAILS = 8
WARM_EVERY = 2.0  # seconds between writes of new results' /metrics lines (Api.metrics_warm)
WARM_IDLE = 600.0  # seconds without a scrape after which /metrics lines are no longer kept warm
# how much of before and after an incident its timeline shows, besides its notices
TIMELINE_MARGIN = timedelta(minutes=30)


class Api:
    """What the web server reads and asks (server.WebView), over a snapshot taken per request."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        reload: Callable[[], Awaitable[tuple[bool, str]]],
        db: store.Store,
        announcements: AnnouncementStore,
        ondemand: OnDemand | None = None,
        fleet: FleetReader | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.ondemand = ondemand
        self._reload = reload
        self.db = db
        self.announcements = announcements
        self.lines = CheckLines()  # each check's /metrics lines, kept between scrapes
        self._scraped = time.monotonic()  # of the last scrape (from the start: the first is warm)
        # in a fleet (storage.url), incidents, campaigns and notices are the fleet's
        # (web/fleet.py); while cut off, reads fail at once and the instance's own are shown
        self.fleet = fleet

    async def metrics_text(self) -> list[bytes]:
        """/metrics body in chunks, written in a worker thread: a 10,000-check scrape never
        stalls probes.

        The snapshot is taken here on the loop (copies, so the thread reads nothing live), and
        the small families too (they read delivery and source counters that keep moving).
        """
        self._scraped = time.monotonic()
        snap = self.snapshot()
        extra = [*families(snap), *fleet_families(snap)]
        if self.ondemand is not None:
            extra += self.ondemand.families()
        return await asyncio.to_thread(render_chunks, snap, extra, self.lines)

    async def metrics_warm(self) -> None:
        """Between scrapes, write the /metrics lines of checks with a new result, so a scrape
        has only the last seconds' results left to write (not while nobody scrapes)."""
        if time.monotonic() - self._scraped < WARM_IDLE:
            await asyncio.to_thread(self.lines.update, self.snapshot())

    def ready(self) -> tuple[bool, str]:
        """Ready when started (the store may be down: probing goes on from memory)."""
        snap = self.snapshot()
        if not snap.started:
            return False, "starting"
        down = [lp for lp in snap.loops if not lp.live]
        if down:
            return False, "; ".join(
                f"loop {lp.name} {'stalled' if lp.alive else 'stopped'}" for lp in down
            )
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
        """The notices of those keys: in a fleet, as any instance recorded them (one with no
        sources has none of its own); cut off, or one not yet published, this instance's own."""
        keys = [str(k) for k in keys]
        found: dict[str, dict[str, Any]] = {}
        if self.fleet is not None and keys:
            with contextlib.suppress(ConnectionError):
                rows = await self.fleet("announcements", keys=keys, limit=len(keys))
                found = {n["key"]: _notice(n) for n in rows}
        out = []
        for key in keys:
            notice = found.get(key) or await self._own_notice(key)
            if notice is not None:
                out.append(notice)
        return out

    async def _own_notice(self, key: str) -> dict[str, Any] | None:
        source, _, mid = key.rpartition("/")
        ann = await self.announcements.get(source, mid)
        if ann is None:
            return None
        m = ann.message
        notice: dict[str, Any] = {
            "key": key,
            "kind": ann.kind,
            "text": m.text,
            "url": m.url,
            "published_at": m.published_at.isoformat(),
            "deleted": m.deleted,
            "services": list(ann.services),
            "evidence": list(ann.classification.evidence),
        }
        claims = _claims(ann)
        if claims is not None:
            notice["claims"] = claims
        return notice

    async def incident_page(self, incident_id: str) -> str | None:
        """The incident's HTML page, or None when there is no such incident."""
        # in a fleet the lists link the fleet's incidents: a local one of the same id is not it
        row = await fleet_incident(self.fleet, incident_id)
        if row is None:
            row = await self.db.run(lambda db: incident_store.get_incident(db, incident_id))
        if row is None:
            return None
        return render_incident_page(await self._incident_view(row, self.snapshot(), True))

    async def _incident_view(
        self, row: dict[str, Any], snap: Snapshot, full: bool = False
    ) -> IncidentView:
        now = snap.now
        notices = await self._notices(row.get("announcements") or {})
        notices.sort(key=lambda n: n["published_at"])  # numbered in time order on the page
        service = str(row.get("service"))
        cfg = next((s for s in snap.services if s.name == service), None)
        times = [_dt(row.get("started_at")), _dt(row.get("ended_at")) or now]
        times += [_dt(n["published_at"]) for n in notices]
        known = [t for t in times if t is not None] or [now]
        lo, hi = min(known) - TIMELINE_MARGIN, min(max(known) + TIMELINE_MARGIN, now)
        outage_ids = row.get("outages") or []
        members: list[dict[str, Any]] = []
        campaign = row.get("campaign")

        def read(db: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            results = incident_store.results_between(db, service, lo, hi)
            outages = incident_store.outages_by_id(db, outage_ids)
            if full and campaign:
                c = incident_store.get_campaign(db, campaign)
                others = [i for i in (c or {}).get("incidents", []) if i != row.get("id")]
                members.extend(incident_store.incidents_by_id(db, others))
            return results, outages

        results, outages = await self.db.run(read)
        if full and campaign and self.fleet is not None:
            found = await fleet_campaign(self.fleet, str(campaign))
            if found is not None:
                members[:] = [i for i in found[1] if i.get("id") != row.get("id")]
        return IncidentView(
            vantage=snap.vantage,
            generated_at=now,
            incident=row,
            titles=_titles(snap),
            checks=[c.id for c in cfg.checks] if cfg is not None else [],
            outages=outages,
            results=results,
            notices=notices,
            members=members,
        )

    async def campaign_page(self, campaign_id: str) -> str | None:
        """The campaign's HTML page, or None when there is no such campaign."""

        def read(db: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            c = incident_store.get_campaign(db, campaign_id)
            members = incident_store.incidents_by_id(db, (c or {}).get("incidents", []))
            return c, members

        found = await fleet_campaign(self.fleet, campaign_id)
        campaign, members = found if found is not None else await self.db.run(read)
        if campaign is None:
            return None
        keys = dict.fromkeys(k for m in members for k in (m.get("announcements") or {}))
        notices = sorted(await self._notices(keys), key=lambda n: n["published_at"])
        snap = self.snapshot()
        view = CampaignView(snap.vantage, snap.now, campaign, members, _titles(snap), notices)
        return render_campaign_page(view)

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
        """Stored announcements, newest first (in a fleet, every instance's)."""
        if self.fleet is not None:
            with contextlib.suppress(ConnectionError):  # cut off: this instance's own
                return await self.fleet(
                    "announcements",
                    since=since,
                    limit=limit,
                    source=source,
                    kind=kind,
                    service=service,
                )
        return await self.announcements.list(since, limit, source, kind, service)

    async def status_page(self) -> str:
        """The HTML status page."""
        snap = self.snapshot()
        now = snap.now
        outages = await self.api_outages(None, 1000)
        svcs = await self.api_services()  # in a fleet, with the fleet's status per service
        spans = await self._data_spans(snap)
        for s in svcs:
            s["availability"] = {
                "24h": availability(outages, s["name"], now, timedelta(hours=24)),
                "7d": availability(outages, s["name"], now, timedelta(days=7)),
            }
            mine = [o for o in outages if o["service"] == s["name"]]
            s["bar"] = health_bar(mine, spans.get(s["name"]), now)
        incidents = await self.api_incidents(None, None, now - timedelta(days=7), 30)
        thumbnails = await self._thumbnails(incidents, snap)
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
            thumbnails=thumbnails,
        )
        return render_status_page(view)

    async def _data_spans(self, snap: Snapshot) -> dict[str, tuple[datetime, datetime]]:
        """Each service's first and last result of the last 24 hours (no data outside them)."""
        since = snap.now - timedelta(hours=24)
        checks = {s.name: [c.id for c in s.checks] for s in snap.services}

        def read(db: Any) -> dict[str, tuple[str, str] | None]:
            return {
                svc: incident_store.data_span(db, svc, ids, since) for svc, ids in checks.items()
            }

        spans = await self.db.run(read)
        out = {}
        for svc, span in spans.items():
            lo, hi = (_dt(t) for t in span) if span else (None, None)
            if lo is not None and hi is not None:
                out[svc] = (lo, hi)
        return out

    async def _thumbnails(self, incidents: list[dict[str, Any]], snap: Snapshot) -> dict[str, str]:
        """Timeline thumbnails of the first incidents the page shows (open ones come first)."""
        shown = sorted(incidents, key=lambda i: i.get("status") != "open")[:MAX_THUMBNAILS]
        out = {}
        for inc in shown:
            view = await self._incident_view(inc, snap)
            out[str(inc["id"])] = thumbnail_svg(view, snap.now)
        return out


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


def _dt(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _titles(snap: Snapshot) -> dict[str, str]:
    return {s.name: s.display for s in snap.services}


def _claims(ann: Any) -> list[dict[str, Any]] | None:
    """The announcement's per-service claims as data, once the classifier gives them."""
    claims = getattr(ann, "claims", None)
    if claims is None:
        return None
    out = []
    for c in claims:
        if isinstance(c, Claim):
            out.append(claim_dict(c))
        elif isinstance(c, Mapping):
            out.append(dict(c))
    return out


_NOTICE_FIELDS = ("key", "kind", "text", "url", "published_at", "deleted", "services", "evidence")


def _notice(row: Mapping[str, Any]) -> dict[str, Any]:
    """A fleet announcements row as an incident's notice (the fields a local one has)."""
    return {**{k: row.get(k) for k in _NOTICE_FIELDS}, "claims": row.get("claims") or []}
