"""Alert inputs, read from a snapshot, and the one piece of state they need: when sources went down."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.config import Service
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
    snap: Snapshot,
    external_url: str,
    links: Mapping[str, str],
    down_since: Mapping[str, datetime],
    memo: FactsMemo | None = None,
) -> AlertInputs:
    """Everything alert rules look at, from one snapshot (`memo` keeps what did not change
    since the last call with it)."""
    memo = memo or FactsMemo()
    return AlertInputs(
        vantage=snap.vantage,
        now=snap.now,
        external_url=external_url,
        services=memo.services(snap),
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
        certs=_certs(snap, memo.warned(snap.services)),
        links=links,
    )


class FactsMemo:
    """What alert inputs can reuse from one evaluation to the next (every second): the service
    facts while no status or open outage changed, the checks that warn of certificate expiry
    while the config is the same. At 10,000 checks that is 1,000 ServiceFacts and a walk of
    10,000 checks a second not redone."""

    def __init__(self) -> None:
        self._config: Sequence[Service] | None = None
        self._warned: list[tuple[Service, Any]] = []
        self._key: tuple[Sequence[Service], Mapping[str, str], Mapping[str, Any]] | None = None
        self._services: list[ServiceFacts] = []

    def warned(self, services: Sequence[Service]) -> list[tuple[Service, Any]]:
        """The (service, check) pairs with a certificate expiry warning, per config."""
        if services is not self._config:  # a reload brings a new list
            self._config = services
            self._warned = [(s, c) for s in services for c in s.checks if c.cert_expiry_warning]
        return self._warned

    def services(self, snap: Snapshot) -> list[ServiceFacts]:
        """The service facts, built again only when the config, a status or an outage changed."""
        p = snap.probes
        # the snapshot's dicts are copies: equal, not the same; the config is the same object
        if (
            self._key is None
            or snap.services is not self._key[0]
            or p.statuses != self._key[1]
            or p.open_outages != self._key[2]
        ):
            self._key = (snap.services, p.statuses, p.open_outages)
            self._services = _services(snap)
        return self._services


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


def _certs(snap: Snapshot, warned: list[tuple[Service, Any]]) -> list[CertFacts]:
    out, last_results = [], snap.probes.last
    for svc, c in warned:
        last = last_results.get((svc.name, c.id))
        if last is not None and last.result.cert_expiry is not None:
            expiry = datetime.fromtimestamp(last.result.cert_expiry, UTC)
            out.append(CertFacts(svc.name, svc.group, c.id, expiry, c.cert_expiry_warning))
    return out
