"""The daemon's live decisions: canaries, the correlator, boosts, and what must be stored and shown."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from monitor.config import Config
from monitor.core.base import Announcement, Observation
from monitor.core.correlate import Correlator
from monitor.core.engine import Engine
from monitor.core.incidents import Change
from monitor.core.state import Event, StateMachine
from monitor.core.stats import LAG_BUCKETS, Histogram

log = logging.getLogger("outwatch.correlate")


class Decisions:
    """Runs the engine for the daemon; collects its changes for the store and alerting."""

    def __init__(self, cfg: Config, machine: StateMachine) -> None:
        self.engine = Engine(cfg, machine)
        self.lag = Histogram(LAG_BUCKETS)
        self.pending: list[Change] = []
        self.dirty = False  # the correlator's memory changed since the last snapshot

    @property
    def correlator(self) -> Correlator:
        """The engine's correlator (snapshots and boosts)."""
        return self.engine.correlator

    @property
    def offline_since(self) -> datetime | None:
        """Since when this vantage has been offline (None while online)."""
        return self.engine.offline_since

    def reconfigure(self, cfg: Config, at: datetime) -> list[Change]:
        """New services, canaries and settings; incidents of removed services end."""
        return self._take(self.engine.reconfigure(cfg, at))

    def result(self, obs: Observation, events: list[Event]) -> list[Change]:
        """Account one probe result (a canary's or a service check's) the machine has seen."""
        return self._take(self.engine.decide(obs, events))

    def announcement(self, ann: Announcement, at: datetime) -> list[Change]:
        """Account a classified announcement."""
        return self._take(self.engine.announcement(ann, at))

    def tick(self, now: datetime) -> list[Change]:
        """Time-based decisions (quiet periods, grace, windows)."""
        return self._take(self.engine.tick(now))

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
