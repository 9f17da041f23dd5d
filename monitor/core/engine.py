"""The one decision chain the daemon and replay share: state, canaries, then the correlator."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.config import Config
from monitor.core.base import Announcement, Observation
from monitor.core.correlate import Correlator
from monitor.core.incidents import Campaign, Change, Incident, vantage_offline
from monitor.core.state import (
    CheckRule,
    Event,
    OutageClosed,
    OutageOpened,
    ServiceChanged,
    ServiceRule,
    StateMachine,
    rules_from_config,
)

CANARY_SERVICE = "_vantage"  # results of vantage canaries carry this service name


class VantageGuard:
    """Canary states and when each began failing: is it us, not them?"""

    def __init__(self, cfg: Config) -> None:
        self.reconfigure(cfg)

    def reconfigure(self, cfg: Config) -> None:
        """Apply new canaries; unchanged ones keep their state."""
        rule = ServiceRule(
            CANARY_SERVICE,
            tuple(
                CheckRule(c.id, True, c.failures_before_down, c.successes_before_up)
                for c in cfg.vantage.canaries
            ),
        )
        old = getattr(self, "machine", None)
        if old is None:
            self.machine = StateMachine([rule])
        else:
            old.reconfigure([rule])
        self.ids = [c.id for c in cfg.vantage.canaries]
        self.ratio = cfg.vantage.offline_ratio
        # a drop of our own network is noticed up to one canary interval late; failures that
        # began within that slack before the canaries' first failure are ours too
        self.slack = timedelta(seconds=max((c.interval for c in cfg.vantage.canaries), default=0.0))
        self.failing_since: dict[str, datetime] = {
            k: v for k, v in getattr(self, "failing_since", {}).items() if k in self.ids
        }

    def observe(self, obs: Observation) -> tuple[bool, datetime | None]:
        """Account a canary result; (offline now?, since when canaries began failing)."""
        self.machine.observe(obs)
        if obs.ok:
            self.failing_since.pop(obs.check, None)
        else:
            self.failing_since.setdefault(obs.check, obs.ts)
        states = {c: self.machine.check_state(CANARY_SERVICE, c) for c in self.ids}
        first = min(self.failing_since.values(), default=None)
        return vantage_offline(states, self.ratio), (first - self.slack if first else None)


def correlate_events(
    corr: Correlator, machine: StateMachine, obs: Observation, events: list[Event], now: datetime
) -> list[Change]:
    """Feed the state events one result caused to the correlator; returns what changed."""
    out: list[Change] = []
    for ev in events:
        if isinstance(ev, ServiceChanged):
            out += corr.status(ev.service, ev.new, now)
        elif isinstance(ev, OutageOpened):
            out += corr.outage_opened(ev.outage, now)
        elif isinstance(ev, OutageClosed):
            out += corr.outage_closed(ev.outage, now)
    if not obs.ok and (outage := machine.open_outage(obs.service)) is not None:
        out += corr.outage_updated(outage, now)
    return out or corr.tick(now)


class Engine:
    """State machine, vantage guard and correlator, fed in time order; returns what changed."""

    def __init__(self, cfg: Config, machine: StateMachine | None = None) -> None:
        self.machine = machine or StateMachine(rules_from_config(cfg.services))
        self.guard = VantageGuard(cfg)
        self.correlator = Correlator(cfg.correlation, _groups(cfg), cfg.vantage.name)
        self.offline_since: datetime | None = None

    def reconfigure(self, cfg: Config, at: datetime) -> list[Change]:
        """New services, canaries, correlation settings and vantage name; incidents in progress
        carry on, those of removed services end (the machine's owner reconfigures the machine)."""
        self.guard.reconfigure(cfg)
        return self.correlator.reconfigure(_groups(cfg), at, cfg.correlation, cfg.vantage.name)

    def observe(self, obs: Observation) -> tuple[list[Event], list[Change]]:
        """Run one result through the state machine, then decide; (state events, changes)."""
        events = [] if obs.service == CANARY_SERVICE else self.machine.observe(obs)
        return events, self.decide(obs, events)

    def decide(self, obs: Observation, events: list[Event]) -> list[Change]:
        """Decide on a result the state machine has already seen (it caused `events`)."""
        if obs.service == CANARY_SERVICE:
            offline, since = self.guard.observe(obs)
            self.offline_since = (self.offline_since or since or obs.ts) if offline else None
            return self.correlator.vantage(offline, obs.ts, since)
        return correlate_events(self.correlator, self.machine, obs, events, obs.ts)

    def announcement(self, ann: Announcement, at: datetime) -> list[Change]:
        """Account a classified announcement."""
        return self.correlator.announcement(ann, at)

    def tick(self, now: datetime) -> list[Change]:
        """Time-based decisions (quiet periods, grace, windows)."""
        return self.correlator.tick(now)

    def open_incidents(self) -> list[Incident]:
        """Incidents still open."""
        return [i for i in self.correlator.incidents() if i.status == "open"]

    def open_campaigns(self) -> list[Campaign]:
        """Campaigns still open."""
        return [c for c in self.correlator.campaigns() if c.status == "open"]


def _groups(cfg: Config) -> dict[str, str]:
    return {s.name: s.group for s in cfg.services}
