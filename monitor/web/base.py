"""What the read side sees of the running daemon: one frozen snapshot, built per request or scrape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.stats import DeliveryStats
from monitor.core.base import CheckState, Outage, ServiceStatus
from monitor.core.incidents import Campaign, Incident
from monitor.core.stats import HistogramLike
from monitor.sources.base import SourceHealth
from probes.base import ProbeResult


@dataclass(frozen=True, slots=True)
class LastResult:
    """The latest result of one check, for metrics and the API."""

    service: str
    check: str
    kind: str
    at: datetime
    result: ProbeResult


@dataclass(frozen=True)
class ProbeSnapshot:
    """Checks and services as the state machine has them now, with the counters behind them."""

    last: Mapping[tuple[str, str], LastResult]
    check_states: Mapping[tuple[str, str], CheckState]
    statuses: Mapping[str, ServiceStatus]  # every service the machine knows, in its order
    open_outages: Mapping[str, Outage]
    groups: Mapping[str, str]  # service -> group
    probes: Mapping[tuple[str, str, str], int]  # (service, check, kind) -> runs
    errors: Mapping[tuple[str, str, str, str], int]  # (service, check, kind, error) -> failures
    outages_total: Mapping[str, int]


@dataclass(frozen=True)
class LoopHealth:
    """One long-lived loop of the daemon: running, finishing iterations, and how often it failed."""

    name: str
    alive: bool  # its task is running
    live: bool  # running and finished an iteration recently enough (not stalled)
    last_iteration: float  # unix time the last iteration finished (or the loop started)
    errors: int  # iterations that ended in an unexpected error


@dataclass(frozen=True)
class FleetSnapshot:
    """This instance's place in a fleet sharing PostgreSQL (storage.url)."""

    instance: str
    decider: bool
    connected: bool
    cut_off_since: datetime | None
    spool_bytes: int
    spool_dropped: int
    verdicts: Mapping[str, Mapping[str, Any]]  # on the decider: service -> fleet verdict
    sent: int  # fleet notifications this instance delivered


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics, the API and the status page show of runtime state, at one instant."""

    vantage: str
    now: datetime
    started: bool
    services: Sequence[Any]  # the configured services (monitor.config.Service)
    probes: ProbeSnapshot
    intervals: Mapping[str, float]  # "<service>/<check>" -> current interval (boosts included)
    boosted: frozenset[str]
    store_up: bool
    store_errors: int
    reload_ok: bool
    reload_at: datetime
    skipped: int
    lateness: HistogramLike
    open_incidents: Sequence[Incident]
    open_campaigns: Sequence[Campaign]
    offline_since: datetime | None
    announcement_lag: HistogramLike
    sources: Sequence[SourceHealth]  # the long-running sources, per channel where they have several
    ingest: SourceHealth
    announcement_counts: Mapping[tuple[str, str], int]  # (source, kind) -> count
    delivery: DeliveryStats
    loops: Sequence[LoopHealth] = ()
    restart_required: Sequence[str] = ()  # settings changed by a reload that wait for a restart
    fleet: FleetSnapshot | None = None  # None: a single instance on SQLite
