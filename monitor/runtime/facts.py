"""Alert inputs, read from a snapshot, and the one piece of state they need: when sources went down."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from monitor.core.alertrules import AlertInputs, CertFacts, ServiceFacts, SourceFacts
from monitor.sources.base import SourceHealth
from monitor.web.base import Snapshot


class SourceTracker:
    """Remembers since when each source has been disconnected (updated on the daemon's tick)."""

    def __init__(self) -> None:
        self.down_since: dict[str, datetime] = {}

    def observe(self, healths: Iterable[SourceHealth], now: datetime) -> None:
        """Account the sources' current health."""
        seen = set()
        for h in healths:
            seen.add(h.name)
            if h.connected:
                self.down_since.pop(h.name, None)
            else:
                self.down_since.setdefault(h.name, now)
        for gone in set(self.down_since) - seen:
            del self.down_since[gone]


def alert_inputs(
    snap: Snapshot, external_url: str, links: Mapping[str, str], down_since: Mapping[str, datetime]
) -> AlertInputs:
    """Everything alert rules look at, from one snapshot."""
    return AlertInputs(
        vantage=snap.vantage,
        now=snap.now,
        external_url=external_url,
        services=_services(snap),
        incidents=snap.open_incidents,
        campaigns=snap.open_campaigns,
        vantage_offline_since=snap.offline_since,
        sources=[
            SourceFacts(
                h.name,
                h.kind,
                h.connected,
                h.last_message_at,
                down_since.get(h.name),
                h.stale_after,
            )
            for h in snap.sources
        ],
        certs=_certs(snap),
        links=links,
    )


def _services(snap: Snapshot) -> list[ServiceFacts]:
    p, out = snap.probes, []
    for svc in snap.services:
        o = p.open_outages.get(svc.name)
        out.append(
            ServiceFacts(
                svc.name,
                svc.display,
                svc.group,
                p.statuses.get(svc.name, "unknown"),
                o.started_at if o else None,
                dict(o.signature) if o else {},
                o.failing_checks if o else (),
            )
        )
    return out


def _certs(snap: Snapshot) -> list[CertFacts]:
    out, last_results = [], snap.probes.last
    for svc in snap.services:
        for c in svc.checks:
            # every check, every second: look the result up only for checks that warn
            if not c.cert_expiry_warning:
                continue
            last = last_results.get((svc.name, c.id))
            if last is not None and last.result.cert_expiry is not None:
                expiry = datetime.fromtimestamp(last.result.cert_expiry, UTC)
                out.append(CertFacts(svc.name, svc.group, c.id, expiry, c.cert_expiry_warning))
    return out
