"""The fleet's pure decisions: each vantage's view of a service, the quorum, and fleet outages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from alerts.base import Alert
from alerts.codec import alert_from_dict, alert_to_dict
from monitor.config import Config
from monitor.core.alertrules import AlertInputs, CertFacts, ServiceFacts, SourceFacts, alerts_for
from monitor.core.base import CheckState, Outage, ServiceStatus
from monitor.core.codec import dt, iso, outage_dict, outage_from
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change
from monitor.core.state import CheckTrack, ServiceRule, rules_from_config, service_status

Quorum = int | Literal["majority"]
FLEET_VANTAGE = "fleet"  # the correlator's vantage name for decisions taken for the whole fleet


def needed(quorum: Quorum, known: int) -> int:
    """How many vantages must see a service down: a fixed number, or more than half of those
    that know its state (a vantage that knows nothing does not count either way)."""
    return known // 2 + 1 if quorum == "majority" else quorum


@dataclass(frozen=True)
class CheckView:
    """One check's state as one instance of a vantage published it."""

    vantage: str
    service: str
    check: str
    state: CheckState
    error: str | None = None
    since: datetime | None = None  # when it entered this state


@dataclass(frozen=True)
class Verdict:
    """The fleet's status of one service, with which vantages see what."""

    status: ServiceStatus
    down: tuple[str, ...] = ()
    degraded: tuple[str, ...] = ()
    up: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # offline (canaries failing) or silent: neither up nor down

    @property
    def reporting(self) -> int:
        """Vantages that know the service's state."""
        return len(self.down) + len(self.degraded) + len(self.up)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "status": self.status,
            "down": list(self.down),
            "degraded": list(self.degraded),
            "up": list(self.up),
            "unknown": list(self.unknown),
            "absent": list(self.absent),
        }


def verdicts_data(
    old: Mapping[str, Mapping[str, Any]],
    verdicts: Mapping[str, Verdict],
    moved: Mapping[str, Verdict],
) -> Mapping[str, Mapping[str, Any]]:
    """Each verdict as plain data (as_dict), given the last such mapping and which verdicts
    `moved` since: only those are remade, and when none moved the very same mapping comes back,
    so its readers can keep what they made of it."""
    if not moved and old.keys() == verdicts.keys():
        return old
    return {s: v.as_dict() if s in moved or s not in old else old[s] for s, v in verdicts.items()}


def verdict(views: Mapping[str, ServiceStatus | None], quorum: Quorum) -> Verdict:
    """The fleet status from each vantage's view of one service (None: the vantage is absent).

    Down when at least the quorum of vantages sees it down; degraded when any vantage sees it
    down or degraded short of that; up when every vantage that knows sees it up.
    """

    def having(*statuses: str) -> tuple[str, ...]:
        return tuple(sorted(v for v, s in views.items() if s in statuses))

    down, degraded, up = having("down"), having("degraded"), having("up")
    unknown = having("unknown")
    absent = tuple(sorted(v for v, s in views.items() if s is None))
    known = len(down) + len(degraded) + len(up)
    if down and len(down) >= needed(quorum, known):
        status: ServiceStatus = "down"
    elif down or degraded:
        status = "degraded"
    elif up:
        status = "up"
    else:
        status = "unknown"
    return Verdict(status, down, degraded, up, unknown, absent)


def vantage_status(rule: ServiceRule, states: Mapping[str, CheckState]) -> ServiceStatus:
    """A service's status from one vantage's check states (checks nobody reported are unknown)."""
    tracks = {c.id: CheckTrack(state=states.get(c.id, "unknown")) for c in rule.checks}
    return service_status(rule, tracks)


def views_of(
    rule: ServiceRule, checks: Iterable[CheckView], vantages: Iterable[str]
) -> dict[str, ServiceStatus | None]:
    """Each present vantage's status of the service (absent vantages map to None)."""
    by_vantage: dict[str, dict[str, CheckState]] = {v: {} for v in vantages}
    for c in checks:
        if c.vantage in by_vantage:
            by_vantage[c.vantage][c.check] = c.state
    return {v: vantage_status(rule, states) for v, states in by_vantage.items()}


@dataclass
class FleetState:
    """The fleet's status of each service and its open fleet outages (what the decider resumes)."""

    statuses: dict[str, ServiceStatus] = field(default_factory=dict)
    outages: dict[str, Outage] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "statuses": dict(self.statuses),
            "outages": {k: outage_dict(o) for k, o in self.outages.items()},
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any] | None) -> FleetState:
        """The inverse of snapshot()."""
        snap = snap or {}
        outages = {k: outage_from(v) for k, v in (snap.get("outages") or {}).items()}
        return cls(dict(snap.get("statuses") or {}), {k: o for k, o in outages.items() if o})


class FleetDecider:
    """Turns verdicts into fleet outages and feeds them to one correlator for the whole fleet."""

    def __init__(self, cfg: Config, state: FleetState | None = None) -> None:
        self.quorum: Quorum = cfg.fleet.quorum
        self.rules = {r.name: r for r in rules_from_config(cfg.services)}
        groups = {s.name: s.group for s in cfg.services}
        self.correlator = Correlator(cfg.correlation, groups, FLEET_VANTAGE)
        self.state = state or FleetState()
        self.verdicts: dict[str, Verdict] = {}
        self._carried: list[Change] = []  # changes a reload made, told with the next decision

    def reconfigure(self, cfg: Config, at: datetime) -> None:
        """New services, quorum and windows; fleet incidents in progress carry on, those of a
        service no longer configured end (reported with the next decision)."""
        self.quorum = cfg.fleet.quorum
        self.rules = {r.name: r for r in rules_from_config(cfg.services)}
        groups = {s.name: s.group for s in cfg.services}
        self._carried += self.correlator.reconfigure(groups, at, cfg.correlation)
        self.verdicts = {k: v for k, v in self.verdicts.items() if k in self.rules}

    def decide(
        self,
        checks: Iterable[CheckView],
        present: Iterable[str],
        at: datetime,
        absent: Iterable[str] = (),
        only: Iterable[str] | None = None,
    ) -> tuple[dict[str, Verdict], list[Change]]:
        """Every service's verdict from the published checks of the present vantages (`absent`
        ones are named in the verdicts, and counted neither up nor down).

        With `only`, just those services are judged again (`checks` then need to hold all the
        views of those services only); the others keep their last verdicts.
        """
        per_service: dict[str, list[CheckView]] = {}
        for c in checks:
            per_service.setdefault(c.service, []).append(c)
        vantages = sorted(set(present))
        changes, self._carried = self._carried, []
        names = self.rules if only is None else [n for n in only if n in self.rules]
        for name in names:
            rule = self.rules[name]
            views = per_service.get(name, [])
            seen = views_of(rule, views, vantages)
            seen.update({a: None for a in absent if a not in seen})
            v = verdict(seen, self.quorum)
            self.verdicts[name] = v
            changes += self._apply(name, v, views, at)
        return dict(self.verdicts), changes + self.correlator.tick(at)

    def _apply(
        self, service: str, v: Verdict, views: list[CheckView], at: datetime
    ) -> list[Change]:
        old = self.state.statuses.get(service, "unknown")
        self.state.statuses[service] = v.status
        down_views = [c for c in views if c.state == "down" and c.vantage in v.down + v.degraded]
        failing = tuple(sorted({c.check for c in down_views}))
        signature = Counter(c.error or "error" for c in down_views)
        out: list[Change] = []
        outage = self.state.outages.get(service)
        if v.status != old:
            out += self.correlator.status(service, v.status, at)
        if v.status == "down" and outage is None:
            starts = [c.since for c in down_views if c.since is not None]
            outage = Outage(service, min(starts, default=at), None, "down", signature, failing)
            self.state.outages[service] = outage
            out += self.correlator.outage_opened(outage, at)
        elif outage is not None and v.status == "up":
            del self.state.outages[service]
            out += self.correlator.outage_closed(replace(outage, ended_at=at), at)
        elif outage is not None and (failing, signature) != (
            outage.failing_checks,
            outage.signature,
        ):
            outage = replace(
                outage, failing_checks=failing or outage.failing_checks, signature=signature
            )
            self.state.outages[service] = outage
            out += self.correlator.outage_updated(outage, at)
        return out


def fleet_alerts(
    cfg: Config, dec: FleetDecider, verdicts: Mapping[str, Verdict], now: datetime, url: str = ""
) -> list[Alert]:
    """The alert rules (core/alertrules.py) over the fleet's state: services at their fleet
    status, the fleet's incidents and campaigns; each service alert names the vantages that see
    it down. A campaign goes in the annotations, not the labels, so an alert keeps one identity
    (fingerprint) when a campaign forms around it, on this decider and on the next."""
    # only a service the fleet sees down has alerts of its own (alertrules.alerts_for): the
    # others are not walked every round (10,000 checks are ~1,000 services)
    down = [s for s in cfg.services if s.name in verdicts and verdicts[s.name].status == "down"]
    services = []
    for s in down:
        o = dec.state.outages.get(s.name)
        started, sig, failing = (
            (o.started_at, dict(o.signature), o.failing_checks) if o else (None, {}, ())
        )
        services.append(ServiceFacts(s.name, s.display, s.group, "down", started, sig, failing))
    corr = dec.correlator
    inp = AlertInputs(
        vantage=FLEET_VANTAGE,
        now=now,
        external_url=url,
        services=services,
        incidents=[i for i in corr.incidents() if i.status == "open"],
        campaigns=[c for c in corr.campaigns() if c.status == "open"],
    )
    titles = {s.name: s.display for s in down}  # (the summary of service_down alerts only)
    return [_with_vantages(a, verdicts, titles) for a in alerts_for(inp)]


def _with_vantages(a: Alert, verdicts: Mapping[str, Verdict], titles: Mapping[str, str]) -> Alert:
    labels = dict(a.labels)
    notes = dict(a.annotations)
    if labels.get("alertname") != "campaign_opened" and "campaign" in labels:
        notes["campaign"] = labels.pop("campaign")
    v = verdicts.get(labels.get("service", ""))
    if v is not None:
        notes["vantages_down"] = ",".join(v.down)
        if labels.get("alertname") == "service_down":
            name = titles.get(v_service := labels["service"], v_service)
            notes["summary"] = (
                f"{name} is down from {', '.join(v.down) or 'no vantage'}"
                f" ({len(v.down)} of {v.reporting} vantages reporting)"
            )
    return replace(a, labels=labels, annotations=notes)


@dataclass(frozen=True)
class InstanceReport:
    """What one live instance says of itself: its vantage offline or not, its sources' health
    and the certificates its checks saw (the facts of the alerts that are not about services)."""

    instance: str
    vantage: str
    offline_since: datetime | None = None
    sources: tuple[SourceFacts, ...] = ()
    certs: tuple[CertFacts, ...] = ()


def facts_dict(sources: Iterable[SourceFacts], certs: Iterable[CertFacts]) -> dict[str, Any]:
    """An instance's source and certificate facts as plain data (published with its heartbeat)."""
    return {
        "sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "connected": s.connected,
                "last_message_at": iso(s.last_message_at),
                "down_since": iso(s.down_since),
                "stale_after": s.stale_after,
            }
            for s in sources
        ],
        "certs": [
            {
                "service": c.service,
                "group": c.group,
                "check": c.check,
                "expiry": iso(c.expiry),
                "warning": c.warning,
            }
            for c in certs
        ],
    }


def report_from(
    instance: str, vantage: str, offline_since: datetime | None, facts: Mapping[str, Any]
) -> InstanceReport:
    """The inverse of facts_dict(), with who said it; malformed entries are left out."""
    sources = tuple(
        SourceFacts(
            str(s["name"]),
            str(s["kind"]),
            bool(s["connected"]),
            dt(s.get("last_message_at")),
            dt(s.get("down_since")),
            s.get("stale_after"),
        )
        for s in facts.get("sources") or ()
        if isinstance(s, dict) and "name" in s
    )
    certs = tuple(
        CertFacts(str(c["service"]), str(c["group"]), str(c["check"]), expiry, float(c["warning"]))
        for c in facts.get("certs") or ()
        if isinstance(c, dict) and (expiry := dt(c.get("expiry"))) is not None
    )
    return InstanceReport(instance, vantage, offline_since, sources, certs)


def instance_alerts(reports: Iterable[InstanceReport], now: datetime, url: str = "") -> list[Alert]:
    """The alert rules over what the live instances report, each firing once for the fleet:
    `vantage_offline` per vantage whose every live instance is offline; `source_disconnected`
    and `source_stale` per source and instance (labelled with both, and the vantage);
    `cert_expiring` per check, at the earliest expiry any vantage saw (the vantages named)."""
    by_vantage: dict[str, list[InstanceReport]] = {}
    certs: dict[tuple[str, str], tuple[CertFacts, set[str]]] = {}
    out: list[Alert] = []
    for r in sorted(reports, key=lambda r: r.instance):
        by_vantage.setdefault(r.vantage, []).append(r)
        for a in alerts_for(
            AlertInputs(vantage=r.vantage, now=now, external_url=url, sources=r.sources)
        ):
            out.append(replace(a, labels={**a.labels, "instance": r.instance}))
        for c in r.certs:
            seen, where = certs.get((c.service, c.check), (c, set()))
            where.add(r.vantage)
            certs[(c.service, c.check)] = (min(seen, c, key=lambda f: f.expiry), where)
    for vantage, rs in sorted(by_vantage.items()):
        since = [r.offline_since for r in rs]
        if all(s is not None for s in since):
            inp = AlertInputs(vantage, now, url, vantage_offline_since=min(s for s in since if s))
            out += [
                _annotated(a, instances=",".join(r.instance for r in rs)) for a in alerts_for(inp)
            ]
    inp = AlertInputs(FLEET_VANTAGE, now, url, certs=[c for c, _ in certs.values()])
    for a in alerts_for(inp):
        where = certs[(a.labels["service"], a.labels["check"])][1]
        out.append(_annotated(a, vantages=",".join(sorted(where))))
    return out


def _annotated(a: Alert, **notes: str) -> Alert:
    return replace(a, annotations={**a.annotations, **notes})


@dataclass
class Firing:
    """The fleet alerts firing after the last round, by fingerprint, with when each began
    firing this time (the decider's memory)."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    began: dict[str, datetime] = field(default_factory=dict)

    def update(self, current: Iterable[Alert], now: datetime) -> list[tuple[Alert, str]]:
        """What to notify: alerts that began firing, and those that stopped (resolved now).
        Each comes with a key naming that firing, so a repeated round (a new decider) notifies
        once, and an alert that fires again later is a new key."""
        now_firing = {a.fingerprint: a for a in current}
        out: list[tuple[Alert, str]] = []
        for fp, a in now_firing.items():
            if fp not in self.alerts:
                self.began[fp] = now
                out.append((a, f"firing:{fp}:{now.isoformat()}"))
        for fp, a in self.alerts.items():
            if fp not in now_firing:
                began = self.began.pop(fp, now)
                out.append((replace(a, ends_at=now), f"resolved:{fp}:{began.isoformat()}"))
        # a firing alert keeps its first words; only whether it fires matters from here on
        self.alerts = {fp: self.alerts.get(fp, a) for fp, a in now_firing.items()}
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        """Plain data."""
        return [
            {**alert_to_dict(a), "began": self.began[fp].isoformat()}
            for fp, a in self.alerts.items()
        ]

    @classmethod
    def restore(cls, data: Iterable[dict[str, Any]] | None) -> Firing:
        """The inverse of snapshot()."""
        out = cls()
        for d in data or []:
            a = alert_from_dict(d)
            out.alerts[a.fingerprint] = a
            out.began[a.fingerprint] = datetime.fromisoformat(d["began"])
        return out


@dataclass
class ViewBook:
    """The decider's copy of every published check state, by service, with who published it."""

    by_service: dict[str, dict[tuple[str, str], tuple[str, CheckView]]] = field(
        default_factory=dict
    )

    def add(self, rows: Iterable[tuple[str, CheckView]]) -> set[str]:
        """Take (instance, view) rows read from the database; returns the services touched."""
        touched: set[str] = set()
        for instance, view in rows:
            self.by_service.setdefault(view.service, {})[(view.vantage, view.check)] = (
                instance,
                view,
            )
            touched.add(view.service)
        return touched

    def views(self, services: Iterable[str], live: frozenset[str]) -> list[CheckView]:
        """The views of these services published by live instances."""
        return [
            view
            for s in services
            for instance, view in self.by_service.get(s, {}).values()
            if instance in live
        ]
