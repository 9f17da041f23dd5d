"""What the demo saw, and whether the story played out as it should (pure: API-shaped dicts in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.demo.timeline import day_time

EXPECTED = ("privatbank", "oschadbank", "mod", "zsu")  # confirmed incidents, one campaign
LATE = "oschadbank"  # still down when the "resumed" notice says it is back
BLIP = "monobank"  # fails one or two probes: never an incident
RESTORED_FLAG = "restored_claim_while_down"


@dataclass(frozen=True)
class Notice:
    """A notice the demo fed to the daemon, and when in the day it belongs."""

    key: str  # source/id
    day: datetime
    text: str


@dataclass
class Snapshot:
    """What the daemon's API and the webhook showed at one moment of the replay."""

    elapsed: float
    day: datetime
    services: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    announcements: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # webhook bodies
    origin: datetime | None = None  # the wall time the replay began, to map times to the day
    speed: float = 1.0

    def day_of(self, iso: str | None) -> datetime | None:
        """The moment of the day a wall time stamped by the daemon stands for."""
        if not iso or self.origin is None:
            return None
        try:
            wall = datetime.fromisoformat(iso)
        except ValueError:
            return None
        return day_time((wall - self.origin).total_seconds(), self.speed)


@dataclass
class Record:
    """Everything seen over the run: each incident's latest form and every flag it ever had."""

    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: dict[str, set[str]] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)  # incident ids confirmed at some point
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, snap: Snapshot) -> None:
        """Take in one snapshot."""
        for inc in snap.incidents:
            iid = str(inc.get("id") or f"{inc.get('service')}@{inc.get('started_at')}")
            self.incidents[iid] = inc
            self.flags.setdefault(iid, set()).update(inc.get("flags") or ())
            if inc.get("confirmed") or (inc.get("observed") and inc.get("announced")):
                self.confirmed.add(iid)
        for camp in snap.campaigns:
            self.campaigns[str(camp.get("id"))] = camp


@dataclass
class Summary:
    """The outcome: incidents, campaigns, alerts delivered, and what did not happen."""

    incidents: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]
    alerts: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Whether the story played out as expected."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form (the `--json-summary` line)."""
        return {
            "ok": self.ok,
            "incidents": self.incidents,
            "campaigns": self.campaigns,
            "alerts": self.alerts,
            "problems": self.problems,
        }


def alert_stats(deliveries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many notifications and alerts reached the webhook, and their alertnames."""
    alerts = [a for d in deliveries for a in d.get("alerts") or () if isinstance(a, dict)]
    names = sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in alerts})
    firing = sum(1 for a in alerts if a.get("status") == "firing")
    return {
        "notifications": len(deliveries),
        "alerts": len(alerts),
        "firing": firing,
        "resolved": len(alerts) - firing,
        "alertnames": names,
    }


def summarise(record: Record, deliveries: Sequence[Mapping[str, Any]]) -> Summary:
    """Compare what was seen with the story of the day."""
    rows = [_row(iid, inc, record) for iid, inc in record.incidents.items()]
    rows.sort(key=lambda r: (str(r["started_at"]), r["service"]))
    campaigns = [
        {"id": c.get("id"), "services": sorted(c.get("services") or ()), "status": c.get("status")}
        for c in record.campaigns.values()
    ]
    stats = alert_stats(deliveries)
    problems = [*_incident_problems(rows), *_campaign_problems(campaigns)]
    if not stats["notifications"]:
        problems.append("no alert was delivered to the webhook")
    return Summary(rows, campaigns, stats, problems)


def _row(iid: str, inc: Mapping[str, Any], record: Record) -> dict[str, Any]:
    return {
        "id": iid,
        "service": str(inc.get("service")),
        "started_at": inc.get("started_at"),
        "status": inc.get("status"),
        "observed": bool(inc.get("observed")),
        "announced": bool(inc.get("announced")),
        "confirmed": iid in record.confirmed,
        "flags": sorted(record.flags.get(iid, ())),
        "campaign": inc.get("campaign"),
    }


def _incident_problems(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = list(rows)
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_service.setdefault(r["service"], []).append(r)
    out = []
    for svc in EXPECTED:
        found = by_service.get(svc, [])
        if not found:
            out.append(f"no incident was opened for {svc}")
        elif not any(r["confirmed"] for r in found):
            r = found[0]
            out.append(
                f"the {svc} incident was not confirmed "
                f"(observed={r['observed']}, announced={r['announced']})"
            )
    if BLIP in by_service:
        out.append(f"{BLIP}'s short blip (below failures_before_down) became an incident")
    for svc in sorted(set(by_service) - set(EXPECTED) - {BLIP}):
        out.append(f"unexpected incident for {svc}")
    late = [r for r in by_service.get(LATE, []) if RESTORED_FLAG in r["flags"]]
    if by_service.get(LATE) and not late:
        out.append(
            f"{LATE} was not flagged {RESTORED_FLAG} though the notice came while it was down"
        )
    for svc in sorted(set(by_service) - {LATE}):
        if any(RESTORED_FLAG in r["flags"] for r in by_service[svc]):
            out.append(f"{svc} was flagged {RESTORED_FLAG} though it was up when the notice came")
    return out


def _campaign_problems(campaigns: Sequence[Mapping[str, Any]]) -> list[str]:
    if not campaigns:
        return ["no campaign was formed"]
    if len(campaigns) > 1:
        return [f"{len(campaigns)} campaigns were formed instead of one"]
    services = set(campaigns[0]["services"])
    missing = [s for s in EXPECTED if s not in services]
    extra = sorted(services - set(EXPECTED))
    out = []
    if missing:
        out.append(f"the campaign is missing {', '.join(missing)}")
    if extra:
        out.append(f"the campaign wrongly includes {', '.join(extra)}")
    return out


def text(summary: Summary) -> list[str]:
    """The summary as lines for a person."""
    lines = ["", "Summary", "Incidents:"]
    for r in summary.incidents:
        what = "confirmed" if r["confirmed"] else ("observed" if r["observed"] else "announced")
        flags = f"  flags: {', '.join(r['flags'])}" if r["flags"] else ""
        lines.append(f"  {r['service']:<12} {what:<10} {r['status'] or '':<9}{flags}")
    if not summary.incidents:
        lines.append("  (none)")
    lines.append("Campaigns:")
    for c in summary.campaigns:
        lines.append(f"  {c['id']}: {', '.join(c['services'])}")
    if not summary.campaigns:
        lines.append("  (none)")
    a = summary.alerts
    lines.append(
        f"Alerts delivered to the webhook: {a['notifications']} notifications, "
        f"{a['alerts']} alerts ({a['firing']} firing, {a['resolved']} resolved): "
        f"{', '.join(a['alertnames']) or '-'}"
    )
    if summary.ok:
        lines.append(
            f"OK: the story played out: {len(EXPECTED)} confirmed incidents in one campaign, "
            f"{RESTORED_FLAG} on {LATE}, no incident for {BLIP}'s blip."
        )
    else:
        lines += [f"NOT AS EXPECTED: {p}" for p in summary.problems]
    return lines
