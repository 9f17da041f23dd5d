"""Which alerts should be firing now, from the daemon's state (pure: data in, alerts out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from alerts.base import Alert
from monitor.vocabulary import ERROR_WORDS, FLAGS

# Every alertname the rules below give (check-config warns about a route matching none of them).


class IncidentLike(Protocol):
    """What alert rules read from an incident (monitor.core.incidents.Incident)."""

    @property
    def id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def flags(self) -> Sequence[str]: ...
    @property
    def failing_checks(self) -> Sequence[str]: ...
    @property
    def signature(self) -> Mapping[str, int]: ...
    @property
    def announcements(self) -> Mapping[str, str]: ...
    @property
    def campaign(self) -> str | None: ...
    @property
    def confirmed(self) -> bool: ...
    @property
    def hints(self) -> Sequence[str]: ...


class CampaignLike(Protocol):
    """What alert rules read from a campaign."""

    @property
    def id(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def services(self) -> Sequence[str]: ...
    @property
    def groups(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class ServiceFacts:
    """A service's current status and open outage."""

    name: str
    title: str
    group: str
    status: str
    outage_started_at: datetime | None = None
    signature: Mapping[str, int] = field(default_factory=dict)
    failing_checks: Sequence[str] = ()


@dataclass(frozen=True)
class SourceFacts:
    """A source's health."""

    name: str
    kind: str
    connected: bool
    last_message_at: datetime | None = None
    down_since: datetime | None = None
    stale_after: float | None = None  # seconds of silence before source_stale; None: never


@dataclass(frozen=True)
class CertFacts:
    """A check's leaf certificate expiry and its warning threshold."""

    service: str
    group: str
    check: str
    expiry: datetime
    warning: float  # seconds


@dataclass(frozen=True)
class AlertInputs:
    """Everything alert rules look at."""

    vantage: str
    now: datetime
    external_url: str = ""
    services: Sequence[ServiceFacts] = ()
    incidents: Sequence[IncidentLike] = ()
    campaigns: Sequence[CampaignLike] = ()
    vantage_offline_since: datetime | None = None
    sources: Sequence[SourceFacts] = ()
    certs: Sequence[CertFacts] = ()
    links: Mapping[str, str] = field(default_factory=dict)  # announcement key -> URL (t.me)
    source_down_after: float = 300.0


def describe_signature(signature: Mapping[str, int]) -> str:
    """`70% timed out, 30% bad HTTP status (of 20 failed probes)`."""
    total = sum(signature.values())
    if not total:
        return "no failed probes recorded"
    parts = [
        f"{round(100 * n / total)}% {ERROR_WORDS.get(k, k)}"
        for k, n in sorted(signature.items(), key=lambda kv: -kv[1])
    ]
    return f"{', '.join(parts)} (of {total} failed probes)"


def page_url(inp: AlertInputs, kind: str, ident: str) -> str:
    """The incident's or campaign's page (`<external_url>/incidents/<id>`), or "" without a URL."""
    return f"{inp.external_url}/{kind}/{quote(ident, safe='@')}" if inp.external_url else ""


def alerts_for(inp: AlertInputs) -> list[Alert]:
    """The full set of alerts that should be firing now."""
    out: list[Alert] = []
    campaign_of = {i.service: i.campaign for i in inp.incidents if i.campaign}
    incident_of = {i.service: i.id for i in inp.incidents}
    out += [
        _service_down(inp, s, campaign_of.get(s.name), incident_of.get(s.name))
        for s in inp.services
        if s.status == "down"
    ]
    for inc in inp.incidents:
        out += _incident_alerts(inp, inc)
    out += [_campaign(inp, c) for c in inp.campaigns]
    if inp.vantage_offline_since is not None:
        out.append(
            _alert(
                inp,
                {"alertname": "vantage_offline", "severity": "critical"},
                f"vantage {inp.vantage} is offline: most canaries fail",
                "Service alerts from this vantage are inhibited: the failures are likely ours.",
                inp.vantage_offline_since,
            )
        )
    out += _source_alerts(inp)
    out += [_cert(inp, c) for c in inp.certs if (c.expiry - inp.now).total_seconds() < c.warning]
    return out


def _alert(
    inp: AlertInputs,
    labels: Mapping[str, str],
    summary: str,
    description: str,
    since: datetime,
    url: str = "",
    links: Mapping[str, str] | None = None,
) -> Alert:
    extra = {k: v for k, v in (links or {}).items() if v}
    return Alert(
        labels={**labels, "vantage": inp.vantage},
        annotations={"summary": summary, "description": description, **extra},
        starts_at=since,
        generator_url=url or inp.external_url,
    )


def _incident_links(inp: AlertInputs, incident: str | None, campaign: str | None) -> dict[str, str]:
    """Annotations naming the incident and campaign an alert is about, with their pages."""
    out: dict[str, str] = {}
    if incident:
        out |= {"incident": incident, "incident_url": page_url(inp, "incidents", incident)}
    if campaign:
        out |= {"campaign": campaign, "campaign_url": page_url(inp, "campaigns", campaign)}
    return out


def _service_labels(service: str, group: str, campaign: str | None) -> dict[str, str]:
    labels = {"service": service, "group": group}
    if campaign:
        labels["campaign"] = campaign
    return labels


def _service_down(
    inp: AlertInputs, s: ServiceFacts, campaign: str | None, incident: str | None
) -> Alert:
    checks = ", ".join(s.failing_checks) or "-"
    page = page_url(inp, "incidents", incident) if incident else ""
    services = f"{inp.external_url}/api/v1/services" if inp.external_url else ""
    return _alert(
        inp,
        {
            "alertname": "service_down",
            "severity": "critical",
            **_service_labels(s.name, s.group, campaign),
        },
        f"{s.title or s.name} is down from {inp.vantage}",
        f"Failing checks: {checks}. {describe_signature(s.signature)}.",
        s.outage_started_at or inp.now,
        page or services,
        _incident_links(inp, incident, campaign),
    )


def _notices(inp: AlertInputs, inc: IncidentLike) -> str:
    # each notice with the kind of its live claim about this service, not its overall kind
    lines = [
        f"{key} ({kind}) {inp.links.get(key, '')}".strip()
        for key, kind in inc.announcements.items()
    ]
    out = ("Notices: " + "; ".join(lines)) if lines else "No official notice yet."
    cause = getattr(inc, "cause", "unknown")
    if cause != "unknown":
        out += f". Cause, as official claims say: {cause}"
    withdrawn = list(getattr(inc, "withdrawn", ()) or ())
    if withdrawn:
        out += f". Withdrawn (edited or deleted): {', '.join(withdrawn)}"
    return out


def _incident_alerts(inp: AlertInputs, inc: IncidentLike) -> list[Alert]:
    base = _service_labels(inc.service, inc.group, inc.campaign)
    url = page_url(inp, "incidents", inc.id)
    links = _incident_links(inp, inc.id, inc.campaign)
    evidence = (
        f"Failing checks: {', '.join(inc.failing_checks) or '-'}. {describe_signature(inc.signature)}. "
        f"Hints: {', '.join(inc.hints) or '-'}. {_notices(inp, inc)} Incident: {url or inc.id}"
    )
    out = []
    if inc.confirmed:
        out.append(
            _alert(
                inp,
                {"alertname": "incident_confirmed", "severity": "critical", **base},
                f"{inc.service}: outage confirmed by an official notice",
                evidence,
                inc.started_at,
                url,
                links,
            )
        )
    for flag in inc.flags:
        words = FLAGS.get(flag)  # type: ignore[call-overload]
        severity = words.severity if words else "warning"
        out.append(
            _alert(
                inp,
                {"alertname": flag, "severity": severity, **base},
                words.summary.format(service=inc.service) if words else f"{inc.service}: {flag}",
                evidence,
                inc.started_at,
                url,
                links,
            )
        )
    return out


def _campaign(inp: AlertInputs, c: CampaignLike) -> Alert:
    return _alert(
        inp,
        {"alertname": "campaign_opened", "severity": "critical", "campaign": c.id},
        f"Coordinated wave: {len(c.services)} services down together ({', '.join(c.groups)})",
        f"Services: {', '.join(c.services)}. Campaign: {c.id}",
        c.started_at,
        page_url(inp, "campaigns", c.id),
        _incident_links(inp, None, c.id),
    )


def _source_alerts(inp: AlertInputs) -> list[Alert]:
    out = []
    for s in inp.sources:
        labels = {"severity": "warning", "source": s.name}
        if (
            not s.connected
            and s.down_since
            and (inp.now - s.down_since).total_seconds() >= inp.source_down_after
        ):
            out.append(
                _alert(
                    inp,
                    {"alertname": "source_disconnected", **labels},
                    f"source {s.name} ({s.kind}) is disconnected",
                    "Official notices from this source are not being received.",
                    s.down_since,
                )
            )
        stale = s.stale_after
        if stale and s.last_message_at and (inp.now - s.last_message_at).total_seconds() >= stale:
            out.append(
                _alert(
                    inp,
                    {"alertname": "source_stale", **labels},
                    f"source {s.name} has been silent since {s.last_message_at.isoformat()}",
                    f"No message for longer than its stale_after ({stale:.0f}s): "
                    "sources.telegram.stale_after or sources.feeds[].stale_after.",
                    s.last_message_at,
                )
            )
    return out


def _cert(inp: AlertInputs, c: CertFacts) -> Alert:
    days = (c.expiry - inp.now).total_seconds() / 86400
    state = "has expired" if days < 0 else f"expires in {days:.1f} days"
    return _alert(
        inp,
        {
            "alertname": "cert_expiring",
            "severity": "warning",
            "service": c.service,
            "group": c.group,
            "check": c.check,
        },
        f"{c.service}: the leaf certificate of {c.check} {state}",
        f"Not after {c.expiry.isoformat()}.",
        # a stable start (when the warning window began) keeps the fingerprint's startsAt steady
        inp.now if days < 0 else c.expiry.replace(microsecond=0) - timedelta(seconds=c.warning),
    )


class CampaignPins:
    """Keeps each alert's `campaign` label as it was when the alert first fired.

    The label decides grouping and is part of the fingerprint: adding it to an alert already
    firing would resolve that alert and fire a new one. Alerts born after a campaign opened
    carry it and page with the wave; earlier ones keep paging as they were.
    """

    def __init__(self) -> None:
        self._born: dict[str, str | None] = {}

    def apply(self, alerts: list[Alert]) -> list[Alert]:
        """The alerts with their campaign labels pinned; forgets alerts no longer firing."""
        out, seen = [], set()
        for a in alerts:
            base = {k: v for k, v in a.labels.items() if k != "campaign"}
            key = Alert(base, {}, a.starts_at).fingerprint
            seen.add(key)
            born = self._born.setdefault(key, a.labels.get("campaign"))
            labels = base if born is None else {**base, "campaign": born}
            out.append(replace(a, labels=labels))
        self._born = {k: v for k, v in self._born.items() if k in seen}
        return out
