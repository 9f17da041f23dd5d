"""Check state, service status and outages from consecutive probe results (pure logic)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

from monitor.core.base import CheckState, Observation, Outage, ServiceStatus
from monitor.core.codec import dt, iso, outage_dict, outage_from


@dataclass(frozen=True, slots=True)
class CheckRule:
    """What the state machine needs to know about a check."""

    id: str
    critical: bool = True
    failures_before_down: int = 3
    successes_before_up: int = 2


@dataclass(frozen=True, slots=True)
class ServiceRule:
    """What the state machine needs to know about a service."""

    name: str
    checks: tuple[CheckRule, ...]


@dataclass(slots=True)
class CheckTrack:
    """Mutable per-check counters."""

    state: CheckState = "unknown"
    fails: int = 0
    oks: int = 0
    failing_since: datetime | None = None
    last_error: str | None = None
    changed_at: datetime | None = None
    # error classes of the current failing streak: an outage's signature starts from these,
    # never from isolated failures long before it
    streak: Counter[str] = field(default_factory=Counter)
    failing_mono: float | None = None  # monotonic time of the streak's first failure
    # this track's entry of the snapshot as JSON text, until the next result changes it: a
    # snapshot re-encodes only the checks that had results since the last one
    encoded: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CheckChanged:
    """A check went up, down or unknown."""

    service: str
    check: str
    old: CheckState
    new: CheckState
    at: datetime


@dataclass(frozen=True)
class ServiceChanged:
    """A service's status changed."""

    service: str
    old: ServiceStatus
    new: ServiceStatus
    at: datetime


@dataclass(frozen=True)
class OutageOpened:
    """A service stopped being up."""

    outage: Outage


@dataclass(frozen=True)
class OutageClosed:
    """A service is up again; `outage` carries its end."""

    outage: Outage


Event = CheckChanged | ServiceChanged | OutageOpened | OutageClosed


@dataclass(slots=True)
class _Service:
    rule: ServiceRule
    status: ServiceStatus = "unknown"
    checks: dict[str, CheckTrack] = field(default_factory=dict)
    outage: Outage | None = None
    signature: Counter[str] = field(default_factory=Counter)
    outage_mono: float | None = None  # monotonic time the open outage started, when known
    # per config: each check's rule by id (the first of a repeated id, as a scan would find)
    rules: dict[str, CheckRule] = field(default_factory=dict)
    # the status the checks' states give, recounted only when a check's state moves, so a
    # result that changes no state walks none of the service's checks
    counted: ServiceStatus = "unknown"
    # the open outage's failing checks and signature may be out of date (after a reconfigure
    # or restore): the next result rebuilds it, as it does after every state move or failure
    stale: bool = True
    key: str = ""  # the service's name as JSON text, for the snapshot


def service_status(rule: ServiceRule, checks: dict[str, CheckTrack]) -> ServiceStatus:
    """up / degraded (some checks down) / down (all critical checks down) / unknown."""
    if not rule.checks:
        return "unknown"
    # one pass, no dict or list per call (the machine calls it only when a check state moves)
    has_critical, critical_all_down, any_down, all_unknown = False, True, False, True
    for c in rule.checks:
        state = checks[c.id].state
        if c.critical:
            has_critical = True
            critical_all_down = critical_all_down and state == "down"
        any_down = any_down or state == "down"
        all_unknown = all_unknown and state == "unknown"
    # `critical: false` checks degrade a service but never make it down (README), even when
    # every check of the service is one
    if has_critical and critical_all_down:
        return "down"
    if any_down:
        return "degraded"
    if all_unknown:
        return "unknown"
    return "up"


class StateMachine:
    """Feeds observations through thresholds; returns what changed. No I/O, no clock of its own."""

    def __init__(self, rules: Iterable[ServiceRule]) -> None:
        self._services: dict[str, _Service] = {}
        self.reconfigure(rules)

    def reconfigure(self, rules: Iterable[ServiceRule], at: datetime | None = None) -> list[Event]:
        """Apply new rules; checks and services that still exist keep their state. The open
        outage of a service no longer configured closes at `at` (the returned events)."""
        rules = list(rules)
        names = {r.name for r in rules}
        closed: list[Event] = [
            OutageClosed(replace(svc.outage, ended_at=max(at, svc.outage.started_at)))
            for name, svc in self._services.items()
            if at is not None and name not in names and svc.outage is not None
        ]
        new: dict[str, _Service] = {}
        for rule in rules:
            old = self._services.get(rule.name)
            svc = _Service(rule) if old is None else old
            svc.rule = rule
            svc.checks = {c.id: svc.checks.get(c.id, CheckTrack()) for c in rule.checks}
            svc.rules = {}
            for c in rule.checks:
                svc.rules.setdefault(c.id, c)
            svc.counted = service_status(rule, svc.checks)
            svc.stale = True
            svc.key = json.dumps(rule.name)
            new[rule.name] = svc
        self._services = new
        return closed

    def observe(self, obs: Observation) -> list[Event]:
        """Account one probe result; return the events it caused."""
        svc = self._services.get(obs.service)
        rule = svc.rules.get(obs.check) if svc is not None else None
        if svc is None or rule is None:
            return []
        track = svc.checks[obs.check]
        track.encoded = None
        events: list[Event] = []
        old_state = track.state
        _count(track, rule, obs)
        failed = not obs.ok and svc.outage is not None
        if failed:
            svc.signature[obs.error or "error"] += 1
        moved = track.state != old_state
        if moved:
            track.changed_at = obs.ts
            events.append(CheckChanged(obs.service, obs.check, old_state, track.state, obs.ts))
            svc.counted = service_status(svc.rule, svc.checks)
        if svc.outage is not None and (moved or failed or svc.stale):
            svc.outage = replace(
                svc.outage, signature=dict(svc.signature), failing_checks=self._failing(svc)
            )
        svc.stale = False
        if svc.counted != svc.status:
            events.extend(self._settle(svc, obs.ts, obs.mono))
        return events

    def _settle(self, svc: _Service, at: datetime, mono: float | None = None) -> list[Event]:
        """The service's status moved to `svc.counted`: open, worsen or close its outage."""
        old, new = svc.status, svc.counted
        svc.status = new
        events: list[Event] = [ServiceChanged(svc.rule.name, old, new, at)]
        if new in ("down", "degraded") and svc.outage is None:
            down = [t for t in svc.checks.values() if t.state == "down" and t.failing_since]
            starts = [t.failing_since for t in down if t.failing_since]
            monos = [t.failing_mono for t in down if t.failing_mono is not None]
            # the signature of the failing streaks that became this outage, not older flaps
            svc.signature = Counter()
            for t in svc.checks.values():
                svc.signature.update(t.streak)
            svc.outage_mono = min(monos) if len(monos) == len(down) and monos else None
            svc.outage = Outage(
                service=svc.rule.name,
                started_at=min(starts, default=at),
                worst=new,
                signature=dict(svc.signature),
                failing_checks=self._failing(svc),
            )
            events.append(OutageOpened(svc.outage))
        elif new == "down" and svc.outage is not None:
            svc.outage = replace(svc.outage, worst="down")
        elif new == "up":
            if svc.outage is not None:
                ended = _ended(svc.outage.started_at, svc.outage_mono, at, mono)
                events.append(OutageClosed(replace(svc.outage, ended_at=ended)))
            svc.outage = None
            svc.outage_mono = None
            svc.signature.clear()
        return events

    @staticmethod
    def _failing(svc: _Service) -> tuple[str, ...]:
        return tuple(cid for cid, t in svc.checks.items() if t.state == "down")

    def status(self, service: str) -> ServiceStatus:
        """Current status of a service ("unknown" if not configured)."""
        svc = self._services.get(service)
        return svc.status if svc is not None else "unknown"

    def check_state(self, service: str, check: str) -> CheckState:
        """Current state of a check."""
        svc = self._services.get(service)
        track = svc.checks.get(check) if svc else None
        return track.state if track else "unknown"

    def open_outage(self, service: str) -> Outage | None:
        """The service's open outage, if any."""
        svc = self._services.get(service)
        return svc.outage if svc else None

    def services(self) -> list[str]:
        """Names of the services tracked."""
        return list(self._services)

    def statuses(self) -> dict[str, ServiceStatus]:
        """Every tracked service's status, in configured order."""
        return {name: svc.status for name, svc in self._services.items()}

    def check_states(self) -> dict[tuple[str, str], CheckState]:
        """Every tracked check's state, keyed (service, check)."""
        return {
            (name, cid): t.state
            for name, svc in self._services.items()
            for cid, t in svc.checks.items()
        }

    def open_outages(self) -> dict[str, Outage]:
        """The open outage of each service that has one."""
        return {name: svc.outage for name, svc in self._services.items() if svc.outage is not None}

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume after a restart, as plain data."""
        return {
            name: {
                "status": svc.status,
                "signature": dict(svc.signature),
                "outage": outage_dict(svc.outage),
                "checks": {cid: _track_dict(t) for cid, t in svc.checks.items()},
            }
            for name, svc in self._services.items()
        }

    def snapshot_json(self) -> str:
        """`json.dumps(self.snapshot())`, the same text, re-encoding only the checks that had
        results since the last call (at 10,000 checks the whole encoding takes ~100 ms)."""
        return "{" + ", ".join(_service_json(svc) for svc in self._services.values()) + "}"

    def restore(self, snap: dict[str, Any]) -> None:
        """Resume from a snapshot; unknown services and checks in it are ignored."""
        for name, data in snap.items():
            svc = self._services.get(name)
            if svc is None:
                continue
            svc.status = data.get("status", "unknown")
            svc.signature = Counter(data.get("signature") or {})
            svc.outage = outage_from(data.get("outage"))
            for cid, t in (data.get("checks") or {}).items():
                if cid in svc.checks:
                    svc.checks[cid] = _track_from(t)
            svc.counted = service_status(svc.rule, svc.checks)
            svc.stale = True


def _ended(
    started: datetime, start_mono: float | None, at: datetime, mono: float | None
) -> datetime:
    """When an outage ended: its start plus the monotonic time since, so a wall clock stepped
    backwards never gives a negative duration; without a monotonic reading, never before start."""
    if start_mono is not None and mono is not None and mono >= start_mono:
        return started + timedelta(seconds=mono - start_mono)
    return max(at, started)


def _count(track: CheckTrack, rule: CheckRule, obs: Observation) -> None:
    if obs.ok:
        track.oks += 1
        track.fails = 0
        if track.state != "down":
            # a streak below the threshold ended; the next outage must not start back then
            _end_streak(track)
        if track.state != "up" and (
            track.oks >= rule.successes_before_up or track.state == "unknown"
        ):
            track.state = "up"
            _end_streak(track)
    else:
        track.fails += 1
        track.oks = 0
        track.last_error = obs.error
        track.streak[obs.error or "error"] += 1
        if track.failing_since is None:
            track.failing_since = obs.ts
            track.failing_mono = obs.mono
        if track.state != "down" and track.fails >= rule.failures_before_down:
            track.state = "down"


def _end_streak(track: CheckTrack) -> None:
    track.failing_since = None
    track.failing_mono = None
    track.streak.clear()


def _service_json(svc: _Service) -> str:
    """One service's entry of the snapshot as JSON text (json.dumps' default separators)."""
    checks = []
    for cid, t in svc.checks.items():
        if t.encoded is None:
            t.encoded = _track_json(cid, t)
        checks.append(t.encoded)
    signature = json.dumps(dict(svc.signature)) if svc.signature else "{}"
    outage = "null" if svc.outage is None else json.dumps(outage_dict(svc.outage))
    return (
        f'{svc.key}: {{"status": {_json(svc.status)}, "signature": {signature}, '
        f'"outage": {outage}, "checks": {{{", ".join(checks)}}}}}'
    )


def _track_json(cid: str, t: CheckTrack) -> str:
    """`"cid": json.dumps(_track_dict(t))`, written out: a third of the time of building the
    dict and encoding it, and a snapshot re-encodes a third of all checks."""
    return (
        f'{_json(cid)}: {{"state": {_json(t.state)}, "fails": {t.fails}, "oks": {t.oks}, '
        f'"failing_since": {_json(iso(t.failing_since))}, "last_error": {_json(t.last_error)}, '
        f'"changed_at": {_json(iso(t.changed_at))}, '
        f'"streak": {json.dumps(dict(t.streak)) if t.streak else "{}"}}}'
    )


def _json(value: str | None) -> str:
    """A string (or None) as json.dumps writes it."""
    if value is None:
        return "null"
    return encode_basestring_ascii(value) if type(value) is str else json.dumps(value)


def _track_dict(t: CheckTrack) -> dict[str, Any]:
    return {
        "state": t.state,
        "fails": t.fails,
        "oks": t.oks,
        "failing_since": iso(t.failing_since),
        "last_error": t.last_error,
        "changed_at": iso(t.changed_at),
        "streak": dict(t.streak),
    }


def _track_from(d: dict[str, Any]) -> CheckTrack:
    return CheckTrack(
        state=d.get("state", "unknown"),
        fails=int(d.get("fails", 0)),
        oks=int(d.get("oks", 0)),
        failing_since=dt(d.get("failing_since")),
        last_error=d.get("last_error"),
        changed_at=dt(d.get("changed_at")),
        streak=Counter(d.get("streak") or {}),
    )


def rules_from_config(services: Iterable[Any]) -> list[ServiceRule]:
    """ServiceRules from config services (monitor.config.Service)."""
    return [
        ServiceRule(
            s.name,
            tuple(
                CheckRule(c.id, c.critical, c.failures_before_down, c.successes_before_up)
                for c in s.checks
            ),
        )
        for s in services
    ]
