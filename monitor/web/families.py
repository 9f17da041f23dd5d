"""Every metric family that is not per check: the daemon's health, correlation, sources, alerts."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from monitor import __version__
from monitor.web.base import Snapshot
from monitor.web.metrics import counter, gauge, histogram


def families(s: Snapshot) -> Iterator[Metric]:
    """All of them, in exposition order."""
    yield gauge(
        "outwatch_build_info",
        "outwatch version",
        ["version", "vantage"],
        [([__version__, s.vantage], 1.0)],
    )
    yield from _daemon(s)
    yield from _loops(s)
    yield from _correlation(s)
    yield from _sources(s)
    yield from _delivery(s)


def _daemon(s: Snapshot) -> Iterator[Metric]:
    v = [s.vantage]
    yield gauge(
        "outwatch_config_last_reload_successful",
        "Whether the last config reload succeeded",
        ["vantage"],
        [(v, 1.0 if s.reload_ok else 0.0)],
    )
    yield gauge(
        "outwatch_config_last_reload_success_timestamp_seconds",
        "Time of the last successful reload",
        ["vantage"],
        [(v, s.reload_at.timestamp())],
    )
    yield gauge(
        "outwatch_store_up",
        "Whether the database is writable",
        ["vantage"],
        [(v, float(s.store_up))],
    )
    yield counter(
        "outwatch_store_errors", "Database errors", ["vantage"], [(v, float(s.store_errors))]
    )
    yield gauge(
        "outwatch_config_restart_required",
        "Settings a reload changed that take effect only after a restart",
        ["vantage", "setting"],
        [([s.vantage, key], 1.0) for key in s.restart_required],
    )
    yield counter(
        "outwatch_probe_runs_skipped",
        "Scheduled runs not made: the previous run still going, or the loop too far behind",
        ["vantage"],
        [(v, float(s.skipped))],
    )
    yield histogram(
        "outwatch_probe_start_lateness_seconds",
        "How long after its scheduled slot each probe started",
        ["vantage"],
        [(v, s.lateness)],
    )


def _loops(s: Snapshot) -> Iterator[Metric]:
    yield gauge(
        "outwatch_loop_up",
        "Whether a long-lived loop runs and finished an iteration recently",
        ["vantage", "loop"],
        [([s.vantage, lp.name], float(lp.live)) for lp in s.loops],
    )
    yield gauge(
        "outwatch_loop_last_iteration_timestamp_seconds",
        "When a long-lived loop last finished an iteration",
        ["vantage", "loop"],
        [([s.vantage, lp.name], lp.last_iteration) for lp in s.loops],
    )
    yield counter(
        "outwatch_loop_errors",
        "Iterations of a long-lived loop that ended in an unexpected error",
        ["vantage", "loop"],
        [([s.vantage, lp.name], float(lp.errors)) for lp in s.loops],
    )


def _b(x: bool) -> str:
    return "true" if x else "false"


def _correlation(s: Snapshot) -> Iterator[Metric]:
    v = s.vantage
    incidents = s.open_incidents
    yield gauge(
        "outwatch_incident_open",
        "1 per open incident",
        ["service", "group", "observed", "announced", "vantage"],
        [([i.service, i.group, _b(i.observed), _b(i.announced), v], 1.0) for i in incidents],
    )
    yield gauge(
        "outwatch_incident_flag",
        "1 per flag raised on an open incident",
        ["service", "flag", "vantage"],
        [([i.service, f, v], 1.0) for i in incidents for f in i.flags],
    )
    camps = s.open_campaigns
    yield gauge("outwatch_campaign_open", "Open campaigns", ["vantage"], [([v], float(len(camps)))])
    yield gauge(
        "outwatch_campaign_services",
        "Services in each open campaign",
        ["campaign", "vantage"],
        [([c.id, v], float(len(c.services))) for c in camps],
    )
    yield histogram(
        "outwatch_announcement_lag_seconds",
        "Outage start to first official notice",
        ["vantage"],
        [([v], s.announcement_lag)],
    )
    yield gauge(
        "outwatch_vantage_offline",
        "1 while most canaries fail",
        ["vantage"],
        [([v], 1.0 if s.offline_since else 0.0)],
    )
    yield gauge(
        "outwatch_check_boosted",
        "1 while a service's checks run at the boost interval",
        ["service", "vantage"],
        [([svc.name, v], 1.0 if svc.name in s.boosted else 0.0) for svc in s.services],
    )


def _sources(s: Snapshot) -> Iterator[Metric]:
    v, healths = s.vantage, [*s.sources, s.ingest]
    yield gauge(
        "outwatch_source_up",
        "1 while the source is connected",
        ["source", "kind", "vantage"],
        [([h.name, h.kind, v], float(h.connected)) for h in healths],
    )
    yield gauge(
        "outwatch_source_last_message_timestamp_seconds",
        "When the source's last message arrived",
        ["source", "kind", "vantage"],
        [
            ([h.name, h.kind, v], h.last_message_at.timestamp())
            for h in healths
            if h.last_message_at
        ],
    )
    yield gauge(
        "outwatch_source_stale_after_seconds",
        "The source's stale_after setting: silent this long, it is stale",
        ["source", "kind", "vantage"],
        [([h.name, h.kind, v], h.stale_after) for h in healths if h.stale_after],
    )
    yield counter(
        "outwatch_source_flood_waits",
        "Telegram flood waits slept through",
        ["source", "vantage"],
        [([h.name, v], float(h.flood_waits)) for h in healths],
    )
    yield counter(
        "outwatch_source_reconnects",
        "Reconnections of the source",
        ["source", "vantage"],
        [([h.name, v], float(h.reconnects)) for h in healths],
    )
    yield counter(
        "outwatch_source_errors",
        "Bad messages, fetch or parse errors",
        ["source", "vantage"],
        [([h.name, v], float(h.errors)) for h in healths],
    )
    yield counter(
        "outwatch_source_times_clamped",
        "Message times out of range (before 1970, far ahead) replaced by the time of receipt",
        ["source", "vantage"],
        [([h.name, v], float(h.clamped_times)) for h in healths],
    )
    yield counter(
        "outwatch_announcements",
        "Announcements received, by kind",
        ["source", "kind", "vantage"],
        [([src, kind, v], float(n)) for (src, kind), n in s.announcement_counts.items()],
    )


def _delivery(s: Snapshot) -> Iterator[Metric]:
    v, st = s.vantage, s.delivery
    yield counter(
        "outwatch_notifications",
        "Notifications delivered",
        ["receiver", "vantage"],
        [([r, v], float(n)) for r, n in st.sent.items()],
    )
    yield counter(
        "outwatch_notifications_failed",
        "Failed delivery attempts",
        ["receiver", "reason", "vantage"],
        [([r, reason, v], float(n)) for (r, reason), n in st.failed.items()],
    )
    yield counter(
        "outwatch_notifications_expired",
        "Notifications dropped undelivered past their maximum age",
        ["receiver", "vantage"],
        [([r, v], float(n)) for r, n in st.expired.items()],
    )
    yield histogram(
        "outwatch_notification_latency_seconds",
        "Time to deliver one notification",
        ["receiver", "vantage"],
        [([r, v], h) for r, h in st.latency.items()],
    )
    yield gauge(
        "outwatch_outbox_pending",
        "Notifications waiting to be delivered",
        ["vantage"],
        [([v], float(st.outbox_pending))],
    )
