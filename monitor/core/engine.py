"""The decision chain the daemon and replay share: state events and canaries into the correlator."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.config import Config
from monitor.core.base import Observation
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change, vantage_offline
from monitor.core.state import (
    CheckRule,
    Event,
    OutageClosed,
    OutageOpened,
    ServiceChanged,
    ServiceRule,
    StateMachine,
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
