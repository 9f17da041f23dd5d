"""From probe results to state: the state machine, last results and counters kept for metrics and the API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.core.base import CheckState, Observation, Outage, ServiceStatus
from monitor.core.state import Event, OutageClosed, OutageOpened, StateMachine, rules_from_config
from monitor.web.base import LastResult, ProbeSnapshot
from probes.base import ProbeResult


@dataclass
class Pipeline:
    """Accounts each probe result and collects what the store must write next."""

    machine: StateMachine
    groups: dict[str, str] = field(default_factory=dict)  # service -> group
    last: dict[tuple[str, str], LastResult] = field(default_factory=dict)
    probes: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # service, check, kind
    errors: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    outages_total: Counter[str] = field(default_factory=Counter)
    pending_results: list[Observation] = field(default_factory=list)
    pending_outages: dict[str, Outage] = field(default_factory=dict)
    # flat copies of the machine's current states, kept per result so a snapshot is a dict copy
    check_states: dict[tuple[str, str], CheckState] = field(default_factory=dict)
    statuses: dict[str, ServiceStatus] = field(default_factory=dict)
    open_outages: dict[str, Outage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the flat copies from the machine (after a reload or a restore)."""
        m = self.machine
        self.check_states, self.statuses, self.open_outages = (
            m.check_states(),
            m.statuses(),
            m.open_outages(),
        )

    @classmethod
    def from_config(cls, services: Any) -> Pipeline:
        """A pipeline for the configured services."""
        return cls(StateMachine(rules_from_config(services)), {s.name: s.group for s in services})

    def reconfigure(self, services: Any, at: datetime | None = None) -> list[Event]:
        """Swap in new services; unchanged checks keep their state; the open outages of
        removed services close at `at` (stored like any other)."""
        events = self.machine.reconfigure(rules_from_config(services), at)
        for ev in events:
            if isinstance(ev, OutageClosed):
                self.pending_outages[ev.outage.id] = ev.outage
        self.groups = {s.name: s.group for s in services}
        self.reindex()
        live = {(s.name, c.id) for s in services for c in s.checks}
        for key in [k for k in self.last if k not in live]:
            del self.last[key]
        return events

    def record(
        self,
        service: str,
        check: str,
        kind: str,
        result: ProbeResult,
        at: datetime,
        mono: float | None = None,
    ) -> tuple[Observation, list[Event]]:
        """Account one result; returns it as an observation, and the state events it caused."""
        key = (service, check)
        ok, error = result.ok, result.error
        self.last[key] = LastResult(service, check, kind, at, result)
        self.probes[(service, check, kind)] += 1
        if not ok:
            self.errors[(service, check, kind, error or "error")] += 1
        obs = Observation(
            service,
            check,
            kind,
            at,
            ok,
            error,
            result.duration,
            result.detail,
            result.status_code,
            mono,
        )
        self.pending_results.append(obs)
        m = self.machine
        events = m.observe(obs)
        for ev in events:
            if isinstance(ev, OutageOpened):
                self.outages_total[ev.outage.service] += 1
            if isinstance(ev, OutageOpened | OutageClosed):
                self.pending_outages[ev.outage.id] = ev.outage
        # an open outage's signature grows with each failure; keep the stored copy current
        open_outage = m.open_outage(service)
        if open_outage is not None and not ok:
            self.pending_outages[open_outage.id] = open_outage
        if service in self.statuses:
            # a check's state and its service's status move only with an event
            if events or key not in self.check_states:
                self.check_states[key] = m.check_state(service, check)
                self.statuses[service] = m.status(service)
            if open_outage is None:
                self.open_outages.pop(service, None)
            else:
                self.open_outages[service] = open_outage
        return obs, events

    def snapshot(self) -> ProbeSnapshot:
        """What the read side shows now: copies, so a scrape never sees a half-applied result."""
        return ProbeSnapshot(
            last=dict(self.last),
            check_states=dict(self.check_states),
            statuses=dict(self.statuses),
            open_outages=dict(self.open_outages),
            groups=dict(self.groups),
            probes=dict(self.probes),
            errors=dict(self.errors),
            outages_total=dict(self.outages_total),
        )

    def take_pending(self) -> tuple[list[Observation], list[Outage]]:
        """Hand over what must be written, and forget it."""
        results, outages = self.pending_results, list(self.pending_outages.values())
        self.pending_results, self.pending_outages = [], {}
        return results, outages

    def give_back(self, results: list[Observation], outages: list[Outage]) -> None:
        """Return rows the store could not write, so they are written later (bounded)."""
        self.pending_results[:0] = results[-100_000:]
        for o in outages:
            self.pending_outages.setdefault(o.id, o)
