"""/metrics: every family collected lazily from the daemon's state at scrape time, all labelled vantage."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from monitor import __version__
from monitor.pipeline import Pipeline

STATUS_VALUE = {"up": 0, "degraded": 1, "down": 2, "unknown": -1}
PHASES = ("resolve", "connect", "tls", "processing", "transfer")
DEFAULT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LAG_BUCKETS = (60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)


@dataclass
class Histogram:
    """Cumulative bucket counts we own, exported as a Prometheus histogram."""

    buckets: Sequence[float] = DEFAULT_BUCKETS
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> Sequence[tuple[str, float]]:
        """Buckets as (le, cumulative count), ending with +Inf."""
        counts = self.counts or [0] * (len(self.buckets) + 1)
        out, running = [], 0
        for le, c in zip([*map(_le, self.buckets), "+Inf"], counts, strict=True):
            running += c
            out.append((le, float(running)))
        return out


def _le(v: float) -> str:
    return f"{v:g}"


class HistogramLike(Protocol):
    """Bucket counts any part of the program keeps (alerts.stats.Histogram fits too)."""

    @property
    def sum(self) -> float: ...

    def cumulative(self) -> Sequence[tuple[str, float]]: ...


class StateView(Protocol):
    """What the collector reads; the daemon provides it."""

    vantage: str
    pipeline: Pipeline

    def extra_families(self) -> Iterable[Metric]: ...


class OutwatchCollector(Collector):
    """Builds every family from current state on each scrape (nothing is updated per probe)."""

    def __init__(self, view: StateView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        v = self.view.vantage
        p = self.view.pipeline
        yield from _probe_families(p, v)
        yield from _state_families(p, v)
        build = GaugeMetricFamily(
            "outwatch_build_info", "outwatch version", labels=["version", "vantage"]
        )
        build.add_metric([__version__, v], 1)
        yield build
        yield from self.view.extra_families()


def _probe_families(p: Pipeline, v: str) -> Iterator[Metric]:
    labels = ["service", "check", "kind", "vantage"]
    success = GaugeMetricFamily("probe_success", "Whether the last probe succeeded", labels=labels)
    duration = GaugeMetricFamily(
        "probe_duration_seconds", "Duration of the last probe", labels=labels
    )
    status = GaugeMetricFamily(
        "probe_http_status_code", "HTTP status of the last probe", labels=labels
    )
    phases = GaugeMetricFamily(
        "probe_http_duration_seconds",
        "Duration of each HTTP phase of the last probe",
        labels=[*labels, "phase"],
    )
    expiry = GaugeMetricFamily(
        "probe_ssl_earliest_cert_expiry", "Leaf certificate expiry, unix seconds", labels=labels
    )
    for (service, check), last in p.last.items():
        lv = [service, check, last.kind, v]
        r = last.result
        success.add_metric(lv, 1.0 if r.ok else 0.0)
        duration.add_metric(lv, r.duration)
        if last.kind == "http":
            status.add_metric(lv, float(r.status_code or 0))
            for phase in PHASES:
                phases.add_metric([*lv, phase], float(r.phases.get(phase, 0.0)))
        if r.cert_expiry is not None:
            expiry.add_metric(lv, r.cert_expiry)
    yield from (success, duration, status, phases, expiry)
    total = CounterMetricFamily("outwatch_probes", "Probes run", labels=labels)
    for (service, check, kind), n in p.probes.items():
        total.add_metric([service, check, kind, v], n)
    errors = CounterMetricFamily(
        "outwatch_probe_errors", "Failed probes by error class", labels=[*labels, "error"]
    )
    for (service, check, kind, err), n in p.errors.items():
        errors.add_metric([service, check, kind, v, err], n)
    yield from (total, errors)


def _state_families(p: Pipeline, v: str) -> Iterator[Metric]:
    m = p.machine
    up = GaugeMetricFamily(
        "outwatch_check_up",
        "1 when the check is up, 0 when down (absent while unknown)",
        labels=["service", "check", "kind", "vantage"],
    )
    for (service, check), last in p.last.items():
        state = m.check_state(service, check)
        if state != "unknown":
            up.add_metric([service, check, last.kind, v], 1.0 if state == "up" else 0.0)
    yield up
    sl = ["service", "group", "vantage"]
    status = GaugeMetricFamily(
        "outwatch_service_status", "Service status: 0 up, 1 degraded, 2 down, -1 unknown", labels=sl
    )
    per = GaugeMetricFamily(
        "outwatch_service_state", "1 for the service's current status", labels=[*sl, "status"]
    )
    sup = GaugeMetricFamily("outwatch_service_up", "1 when the service is up", labels=sl)
    open_ = GaugeMetricFamily(
        "outwatch_outage_open", "1 while the service has an open outage", labels=sl
    )
    total = CounterMetricFamily("outwatch_outages", "Outages opened", labels=sl)
    for service in m.services():
        group = p.groups.get(service, "other")
        st = m.status(service)
        lv = [service, group, v]
        status.add_metric(lv, STATUS_VALUE[st])
        for name in STATUS_VALUE:
            per.add_metric([*lv, name], 1.0 if name == st else 0.0)
        sup.add_metric(lv, 1.0 if st == "up" else 0.0)
        open_.add_metric(lv, 1.0 if m.open_outage(service) else 0.0)
        total.add_metric(lv, p.outages_total.get(service, 0))
    yield from (status, per, sup, open_, total)


def gauge(
    name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]
) -> Metric:
    """A gauge family from (label values, value) rows."""
    g = GaugeMetricFamily(name, doc, labels=list(labels))
    for lv, value in rows:
        g.add_metric(list(lv), value)
    return g


def counter(
    name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]
) -> Metric:
    """A counter family (name without _total) from (label values, value) rows."""
    c = CounterMetricFamily(name, doc, labels=list(labels))
    for lv, value in rows:
        c.add_metric(list(lv), value)
    return c


def histogram(
    name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], HistogramLike]]
) -> Metric:
    """A histogram family from (label values, Histogram) rows."""
    h = HistogramMetricFamily(name, doc, labels=list(labels))
    for lv, hist in rows:
        h.add_metric(list(lv), list(hist.cumulative()), hist.sum)
    return h


def registry_for(view: Any) -> CollectorRegistry:
    """A registry holding only outwatch's collector."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(OutwatchCollector(view))
    return reg
