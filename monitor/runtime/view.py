"""The read side of the daemon: API answers, the status page, alert inputs and extra metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client.core import Metric

from monitor.core.alertrules import AlertInputs, CertFacts, ServiceFacts, SourceFacts
from monitor.store import db as store
from monitor.store import incidents as incident_store
from monitor.web.metrics import counter, gauge, histogram, render
from monitor.web.statuspage import StatusView, render_status_page

if TYPE_CHECKING:
    from monitor.runtime.daemon import Daemon
    from monitor.runtime.pipeline import Pipeline


class DaemonView:
    """What the web layer and the metrics collector see of a daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    @property
    def vantage(self) -> str:
        return self.d.vantage

    @property
    def pipeline(self) -> Pipeline:
        return self.d.pipeline

    def extra_families(self) -> Iterator[Metric]:
        """Families beyond probes and state."""
        return extra_families(self.d)

    def metrics_text(self) -> bytes:
        """/metrics body: what generate_latest(self.registry) gives, rendered directly (faster)."""
        return render(self)

    def ready(self) -> tuple[bool, str]:
        """Ready when started (the store may be down: probing goes on from memory)."""
        if not self.d.started:
            return False, "starting"
        return True, "ok" if self.d.store_up else "store unavailable; running from memory"

    async def reload(self) -> tuple[bool, str]:
        """Reload the config file."""
        return await self.d.reload()

    async def api_services(self) -> list[dict[str, Any]]:
        """Current status of each service and its checks."""
        return services(self.d)

    async def api_outages(self, service: str | None, limit: int) -> list[dict[str, Any]]:
        """Stored outages, newest first."""
        return await self.d.store.run(lambda db: store.list_outages(db, service, limit))

    async def api_incidents(
        self, status: str | None, service: str | None, since: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Stored incidents, newest first."""
        return await self.d.store.run(
            lambda db: incident_store.list_incidents(db, status, service, since, limit)
        )

    async def api_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident with its evidence and its notices (text, kind, link)."""
        row = await self.d.store.run(lambda db: incident_store.get_incident(db, incident_id))
        if row is not None:
            row["notices"] = await self._notices(row.get("announcements") or {})
        return row

    async def _notices(self, keys: Any) -> list[dict[str, Any]]:
        out = []
        for key in keys:
            source, _, mid = str(key).rpartition("/")
            ann = await self.d.announcements.get(source, mid)
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
        return await self.d.store.run(lambda db: incident_store.list_campaigns(db, status, since))

    async def api_announcements(
        self,
        since: datetime | None,
        limit: int,
        source: str | None,
        kind: str | None,
        service: str | None,
    ) -> list[dict[str, Any]]:
        """Stored announcements, newest first."""
        return await self.d.announcements.list(since, limit, source, kind, service)

    async def status_page(self) -> str:
        """The HTML status page."""
        now = self.d.clock.now()
        outages = await self.api_outages(None, 1000)
        svcs = services(self.d)
        for s in svcs:
            s["availability"] = {
                "24h": availability(outages, s["name"], now, timedelta(hours=24)),
                "7d": availability(outages, s["name"], now, timedelta(days=7)),
            }
        incidents = await self.api_incidents(None, None, now - timedelta(days=7), 30)
        for inc in incidents:
            inc["announcements"] = await self._notices(inc.get("announcements") or {})
        view = StatusView(
            vantage=self.d.vantage,
            generated_at=now,
            vantage_offline=self.d.decisions.offline_since is not None,
            services=svcs,
            incidents=incidents,
            campaigns=await self.api_campaigns(None, now - timedelta(days=7)),
            announcements=await self.api_announcements(None, 20, None, None, None),
        )
        return render_status_page(view)


def services(d: Daemon) -> list[dict[str, Any]]:
    """Current status of each service and its checks, as API data."""
    m = d.pipeline.machine
    out = []
    for svc in d.cfg.services:
        outage = m.open_outage(svc.name)
        out.append(
            {
                "name": svc.name,
                "title": svc.display,
                "group": svc.group,
                "status": m.status(svc.name),
                "boosted": svc.name in d.boosted,
                "outage": None
                if outage is None
                else {
                    "started_at": outage.started_at.isoformat(),
                    "signature": dict(outage.signature),
                },
                "checks": [_check(d, svc.name, c) for c in svc.checks],
            }
        )
    return out


def _check(d: Daemon, service: str, c: Any) -> dict[str, Any]:
    last = d.pipeline.last.get((service, c.id))
    r = None if last is None else last.result
    return {
        "id": c.id,
        "kind": c.kind,
        "target": c.endpoint(),
        "critical": c.critical,
        "state": d.pipeline.machine.check_state(service, c.id),
        "interval": d.scheduler.interval(f"{service}/{c.id}") or c.interval,
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


def alert_inputs(d: Daemon) -> AlertInputs:
    """Everything alert rules look at, read from the daemon now."""
    now = d.clock.now()
    m = d.pipeline.machine
    facts = []
    for svc in d.cfg.services:
        o = m.open_outage(svc.name)
        facts.append(
            ServiceFacts(
                svc.name,
                svc.display,
                svc.group,
                m.status(svc.name),
                o.started_at if o else None,
                dict(o.signature) if o else {},
                o.failing_checks if o else (),
            )
        )
    return AlertInputs(
        vantage=d.vantage,
        now=now,
        external_url=d.external_url,
        services=facts,
        incidents=d.decisions.open_incidents(),
        campaigns=[c for c in d.decisions.correlator.campaigns() if c.status == "open"],
        vantage_offline_since=d.decisions.offline_since,
        sources=_source_facts(d, now),
        certs=_certs(d),
        links=d.links,
    )


def _source_facts(d: Daemon, now: datetime) -> list[SourceFacts]:
    out = []
    for src in d.sources:
        for h in src.healths():
            if h.connected:
                d.source_down_since.pop(h.name, None)
            else:
                d.source_down_since.setdefault(h.name, now)
            out.append(
                SourceFacts(
                    h.name, h.kind, h.connected, h.last_message_at, d.source_down_since.get(h.name)
                )
            )
    return out


def _certs(d: Daemon) -> list[CertFacts]:
    out = []
    for svc in d.cfg.services:
        for c in svc.checks:
            last = d.pipeline.last.get((svc.name, c.id))
            if c.cert_expiry_warning and last is not None and last.result.cert_expiry is not None:
                expiry = datetime.fromtimestamp(last.result.cert_expiry, UTC)
                out.append(CertFacts(svc.name, svc.group, c.id, expiry, c.cert_expiry_warning))
    return out


def extra_families(d: Daemon) -> Iterator[Metric]:
    """The daemon's own health, correlation, sources and notifications."""
    v = [d.vantage]
    yield gauge(
        "outwatch_config_last_reload_successful",
        "Whether the last config reload succeeded",
        ["vantage"],
        [(v, 1.0 if d.reload_ok else 0.0)],
    )
    yield gauge(
        "outwatch_config_last_reload_success_timestamp_seconds",
        "Time of the last successful reload",
        ["vantage"],
        [(v, d.reload_at.timestamp())],
    )
    yield gauge(
        "outwatch_store_up",
        "Whether the database is writable",
        ["vantage"],
        [(v, float(d.store_up))],
    )
    yield counter(
        "outwatch_store_errors", "Database errors", ["vantage"], [(v, float(d.store_errors))]
    )
    yield counter(
        "outwatch_probe_runs_skipped",
        "Scheduled runs not made: the previous run still going, or the loop too far behind",
        ["vantage"],
        [(v, float(d.scheduler.skipped))],
    )
    yield histogram(
        "outwatch_probe_start_lateness_seconds",
        "How long after its scheduled slot each probe started",
        ["vantage"],
        [(v, d.scheduler.lateness)],
    )
    groups = {s.name: s.group for s in d.cfg.services}
    yield from d.decisions.families(d.boosted, groups)
    yield from _source_families(d)
    yield from _delivery_families(d)


def _source_families(d: Daemon) -> Iterator[Metric]:
    v = d.vantage
    healths = [h for src in d.sources for h in src.healths()] + [d.ingest_health]
    yield gauge(
        "outwatch_source_up",
        "1 while the source is connected",
        ["source", "kind", "vantage"],
        [([h.name, h.kind, v], float(h.connected)) for h in healths],
    )
    yield gauge(
        "outwatch_source_last_message_timestamp_seconds",
        "When the source's last message arrived",
        ["source", "kind", "vantage"],
        [
            ([h.name, h.kind, v], h.last_message_at.timestamp())
            for h in healths
            if h.last_message_at
        ],
    )
    yield counter(
        "outwatch_source_flood_waits",
        "Telegram flood waits slept through",
        ["source", "vantage"],
        [([h.name, v], float(h.flood_waits)) for h in healths],
    )
    yield counter(
        "outwatch_source_reconnects",
        "Reconnections of the source",
        ["source", "vantage"],
        [([h.name, v], float(h.reconnects)) for h in healths],
    )
    yield counter(
        "outwatch_source_errors",
        "Bad messages, fetch or parse errors",
        ["source", "vantage"],
        [([h.name, v], float(h.errors)) for h in healths],
    )
    yield counter(
        "outwatch_source_times_clamped",
        "Message times out of range (before 1970, far ahead) replaced by the time of receipt",
        ["source", "vantage"],
        [([h.name, v], float(h.clamped_times)) for h in healths],
    )
    yield counter(
        "outwatch_announcements",
        "Announcements received, by kind",
        ["source", "kind", "vantage"],
        [([src, kind, v], float(n)) for (src, kind), n in d.announcement_counts.items()],
    )


def _delivery_families(d: Daemon) -> Iterator[Metric]:
    v = d.vantage
    st = d.dispatcher.stats
    yield counter(
        "outwatch_notifications",
        "Notifications delivered",
        ["receiver", "vantage"],
        [([r, v], float(n)) for r, n in st.sent.items()],
    )
    yield counter(
        "outwatch_notifications_failed",
        "Failed delivery attempts",
        ["receiver", "reason", "vantage"],
        [([r, reason, v], float(n)) for (r, reason), n in st.failed.items()],
    )
    yield histogram(
        "outwatch_notification_latency_seconds",
        "Time to deliver one notification",
        ["receiver", "vantage"],
        [([r, v], h) for r, h in st.latency.items()],
    )
    yield gauge(
        "outwatch_outbox_pending",
        "Notifications waiting to be delivered",
        ["vantage"],
        [([v], float(st.outbox_pending))],
    )
