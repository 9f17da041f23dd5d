"""Incident and campaign records, what the correlator reports, and the evidence hints."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.core.base import AnnouncementKind, Cause, CheckState
from monitor.core.codec import dt, iso
from monitor.vocabulary import Flag

IncidentStatus = Literal["open", "resolved"]
CampaignStatus = Literal["open", "closed"]
FLAGS: tuple[Flag, ...] = Flag.__args__  # type: ignore[attr-defined]
ChangeKind = Literal[
    "incident_opened",
    "incident_updated",
    "incident_resolved",
    "incident_withdrawn",  # opened from an outage that turned out to be the vantage's own
    "campaign_opened",
    "campaign_updated",
    "campaign_closed",
    "campaign_withdrawn",  # its incidents were withdrawn below campaign_min_services
    "vantage_offline",
    "vantage_online",
]

# Error classes grouped the way a SOC reads a failure signature.
_HINTS: tuple[tuple[tuple[str, ...], float, str], ...] = (
    (("timeout", "http_status"), 0.5, "timeouts+5xx surge: likely volumetric/DDoS"),
    (("refused", "reset"), 0.5, "refusals/resets: overload or filtering"),
    (("content",), 0.3, "content mismatch: possible defacement"),
    (("dns",), 0.3, "dns failure: DNS"),
    (("tls",), 0.3, "tls failure: certificate or handshake"),
    (("unreachable",), 0.5, "unreachable: routing"),
)


def shares(signature: Mapping[str, int]) -> dict[str, float]:
    """Each error class's share of all failures (rounded to 3 places)."""
    total = sum(signature.values())
    if not total:
        return {}
    return {k: round(v / total, 3) for k, v in sorted(signature.items()) if v}


def volumetric(signature: Mapping[str, int]) -> bool:
    """Failures dominated by timeouts: the DDoS-shaped kind (refusals are often deliberate)."""
    return shares(signature).get("timeout", 0.0) >= 0.5


def hints(signature: Mapping[str, int]) -> tuple[str, ...]:
    """What the failure signature suggests, most telling first."""
    share = shares(signature)
    return tuple(
        text for classes, least, text in _HINTS if sum(share.get(c, 0.0) for c in classes) >= least
    )


@dataclass(frozen=True)
class Incident:
    """One service's outage and/or the announcements about it, joined in time."""

    id: str  # `INC-<UTC day of its start>-<nnn>` (older stores: `<service>@<iso>`); never changes
    service: str
    group: str
    started_at: datetime
    status: IncidentStatus = "open"
    ended_at: datetime | None = None
    observed: bool = False
    announced: bool = False
    outages: tuple[str, ...] = ()  # outage ids
    announcements: Mapping[str, AnnouncementKind] = field(default_factory=dict)  # key -> kind
    flags: tuple[Flag, ...] = ()
    failing_checks: tuple[str, ...] = ()
    signature: Mapping[str, int] = field(default_factory=dict)  # error class -> count
    first_notice_at: datetime | None = None
    campaign: str | None = None
    flags_at: Mapping[str, datetime] = field(default_factory=dict)  # flag -> when it was raised
    cause: Cause = "unknown"  # from the linked claims: attack, technical, or nobody said
    withdrawn: tuple[str, ...] = ()  # announcements edited away from it or deleted

    @property
    def confirmed(self) -> bool:
        """Both seen by the probes and announced."""
        return self.observed and self.announced

    @property
    def shares(self) -> dict[str, float]:
        """The failure signature as shares."""
        return shares(self.signature)

    @property
    def hints(self) -> tuple[str, ...]:
        """What the failure signature suggests."""
        return hints(self.signature)


@dataclass(frozen=True)
class Campaign:
    """Several services whose incidents started close together: one wave."""

    id: str  # `CMP-<UTC day of its start>-<nn>` (older stores: `campaign@<iso>`)
    started_at: datetime
    services: tuple[str, ...]
    incidents: tuple[str, ...]
    groups: tuple[str, ...] = ()
    status: CampaignStatus = "open"
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Gap:
    """A stretch of time the vantage itself was offline: outages in it are not incidents."""

    started_at: datetime
    ended_at: datetime | None = None
    outages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One decision of the correlator, for the store, the metrics and the alerts."""

    kind: ChangeKind
    at: datetime
    incident: Incident | None = None
    campaign: Campaign | None = None
    gap: Gap | None = None
    flags_raised: tuple[Flag, ...] = ()
    flags_cleared: tuple[Flag, ...] = ()
    announcement_lag: float | None = None  # seconds, outage start -> first notice; on confirmation


def vantage_offline(canary_states: Mapping[str, CheckState], ratio: float) -> bool:
    """Whether most canaries are down (share of down among known canaries >= ratio)."""
    known = [s for s in canary_states.values() if s != "unknown"]
    if not known:
        return False
    return sum(s == "down" for s in known) / len(known) >= ratio


class IdBook:
    """Hands out ids a person can say: `INC-20220215-004`, a counter per UTC day of the start.

    Pure and clock-free: the number comes from the book's own counter, which the correlator
    keeps in its snapshot (written with the changes that used it), so replay of the same input
    gives the same ids and a restart never hands one out twice. Ids sort by day, then by the
    order they were given out in.
    """

    def __init__(self, prefix: str, width: int) -> None:
        self.prefix = prefix
        self.width = width
        self._last: dict[str, int] = {}  # "YYYYMMDD" -> last number given out

    def next(self, start: datetime) -> str:
        """A new id for something that started at `start`."""
        day = start.astimezone(UTC).strftime("%Y%m%d")
        n = self._last.get(day, 0) + 1
        self._last[day] = n
        return f"{self.prefix}-{day}-{n:0{self.width}d}"

    def reserve(self, ids: Iterable[str]) -> None:
        """Never hand out these (ids already in the store, when the snapshot is older)."""
        for i in ids:
            m = _ID.fullmatch(i)
            if m and m["prefix"] == self.prefix:
                day, n = m["day"], int(m["n"])
                self._last[day] = max(self._last.get(day, 0), n)

    def snapshot(self) -> dict[str, int]:
        """Plain data to resume from."""
        return dict(sorted(self._last.items()))

    def restore(self, snap: Mapping[str, Any] | None) -> None:
        """Resume from snapshot()."""
        self._last = {str(k): int(v) for k, v in (snap or {}).items() if isinstance(v, int)}


_ID = re.compile(r"(?P<prefix>[A-Z]+)-(?P<day>\d{8})-(?P<n>\d+)")
INCIDENT_PREFIX, CAMPAIGN_PREFIX = "INC", "CMP"


# -- plain data, for the store, the API and snapshots ------------------------------------------


def incident_dict(i: Incident) -> dict[str, Any]:
    """An incident as JSON-ready data (with its confirmation, shares and hints)."""
    return {
        "id": i.id,
        "service": i.service,
        "group": i.group,
        "status": i.status,
        "observed": i.observed,
        "announced": i.announced,
        "confirmed": i.confirmed,
        "started_at": iso(i.started_at),
        "ended_at": iso(i.ended_at),
        "outages": list(i.outages),
        "announcements": dict(i.announcements),
        "flags": list(i.flags),
        "flags_at": {f: iso(t) for f, t in sorted(i.flags_at.items())},
        "evidence": {
            "failing_checks": list(i.failing_checks),
            "signature": dict(i.signature),
            "shares": i.shares,
            "hints": list(i.hints),
        },
        "first_notice_at": iso(i.first_notice_at),
        "campaign": i.campaign,
        "cause": i.cause,
        "withdrawn": list(i.withdrawn),
    }


def incident_from(d: Mapping[str, Any]) -> Incident:
    """The inverse of incident_dict."""
    ev = d.get("evidence") or {}
    return Incident(
        id=d["id"],
        service=d["service"],
        group=d.get("group", "other"),
        started_at=datetime.fromisoformat(d["started_at"]),
        status=d.get("status", "open"),
        ended_at=dt(d.get("ended_at")),
        observed=bool(d.get("observed")),
        announced=bool(d.get("announced")),
        outages=tuple(d.get("outages") or ()),
        announcements=dict(d.get("announcements") or {}),
        flags=tuple(d.get("flags") or ()),
        flags_at={f: t for f, v in (d.get("flags_at") or {}).items() if (t := dt(v)) is not None},
        failing_checks=tuple(ev.get("failing_checks") or ()),
        signature=dict(ev.get("signature") or {}),
        first_notice_at=dt(d.get("first_notice_at")),
        campaign=d.get("campaign"),
        cause=d.get("cause") or "unknown",
        withdrawn=tuple(d.get("withdrawn") or ()),
    )


def campaign_dict(c: Campaign) -> dict[str, Any]:
    """A campaign as JSON-ready data."""
    return {
        "id": c.id,
        "status": c.status,
        "started_at": iso(c.started_at),
        "ended_at": iso(c.ended_at),
        "services": list(c.services),
        "incidents": list(c.incidents),
        "groups": list(c.groups),
    }


def campaign_from(d: Mapping[str, Any]) -> Campaign:
    """The inverse of campaign_dict."""
    return Campaign(
        id=d["id"],
        started_at=datetime.fromisoformat(d["started_at"]),
        services=tuple(d.get("services") or ()),
        incidents=tuple(d.get("incidents") or ()),
        groups=tuple(d.get("groups") or ()),
        status=d.get("status", "open"),
        ended_at=dt(d.get("ended_at")),
    )
