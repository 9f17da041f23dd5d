"""The daemon's live decisions: canaries, the correlator, boosts, and what must be stored and shown."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from monitor.config import Config
from monitor.core.base import Announcement, Observation
from monitor.core.correlate import Correlator
from monitor.core.engine import CANARY_SERVICE, VantageGuard, correlate_events
from monitor.core.incidents import Change, Incident
from monitor.core.state import Event, StateMachine
from monitor.core.stats import LAG_BUCKETS, Histogram

log = logging.getLogger("outwatch.correlate")


class Decisions:
    """Owns the correlator and the vantage guard; collects changes for the store and alerting."""

    def __init__(self, cfg: Config) -> None:
        self.vantage = cfg.vantage.name
        self.correlator = Correlator(cfg.correlation, _groups(cfg), cfg.vantage.name)
        self.guard = VantageGuard(cfg)
        self.offline_since: datetime | None = None
        self.lag = Histogram(LAG_BUCKETS)
        self.pending: list[Change] = []
        self.dirty = False  # the correlator's memory changed since the last snapshot

    def reconfigure(self, cfg: Config) -> None:
        """New services and canaries; incidents in progress carry on."""
        self.correlator.reconfigure(_groups(cfg))
        self.guard.reconfigure(cfg)

    def result(self, machine: StateMachine, obs: Observation, events: list[Event]) -> list[Change]:
        """Account one probe result (a canary's or a service check's)."""
        if obs.service == CANARY_SERVICE:
            offline, since = self.guard.observe(obs)
            self.offline_since = (self.offline_since or since or obs.ts) if offline else None
            return self._take(self.correlator.vantage(offline, obs.ts, since))
        return self._take(correlate_events(self.correlator, machine, obs, events, obs.ts))

    def announcement(self, ann: Announcement, at: datetime) -> list[Change]:
        """Account a classified announcement."""
        return self._take(self.correlator.announcement(ann, at))

    def tick(self, now: datetime) -> list[Change]:
        """Time-based decisions (quiet periods, grace, windows)."""
        return self._take(self.correlator.tick(now))

    def _take(self, changes: list[Change]) -> list[Change]:
        for ch in changes:
            self.dirty = True
            self.pending.append(ch)
            if ch.announcement_lag is not None:
                self.lag.observe(ch.announcement_lag)
            _log(ch)
        return changes

    def take_pending(self) -> list[Change]:
        """Changes not yet written to the store."""
        out, self.pending = self.pending, []
        return out

    def open_incidents(self) -> list[Incident]:
        """Incidents still open."""
        return [i for i in self.correlator.incidents() if i.status == "open"]


def _groups(cfg: Config) -> dict[str, str]:
    return {s.name: s.group for s in cfg.services}


def _log(ch: Change) -> None:
    extra: dict[str, Any] = {}
    if ch.incident is not None:
        extra = {"service": ch.incident.service, "incident": ch.incident.id}
        inc = ch.incident
        log.info(
            "%s: observed=%s announced=%s flags=%s",
            ch.kind,
            inc.observed,
            inc.announced,
            ",".join(inc.flags) or "-",
            extra=extra,
        )
    elif ch.campaign is not None:
        log.warning(
            "%s: %s", ch.kind, ", ".join(ch.campaign.services), extra={"campaign": ch.campaign.id}
        )
    else:
        log.warning("%s", ch.kind)
