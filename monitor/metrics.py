"""/metrics: every family collected lazily from the daemon's state at scrape time, all labelled vantage."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from monitor import __version__
from monitor.pipeline import Pipeline
from probes.base import Family

STATUS_VALUE = {"up": 0, "degraded": 1, "down": 2, "unknown": -1}
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

    @property
    def vantage(self) -> str: ...

    @property
    def pipeline(self) -> Pipeline: ...

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
    for (service, check), last in p.last.items():
        lv = [service, check, last.kind, v]
        r = last.result
        success.add_metric(lv, 1.0 if r.ok else 0.0)
        duration.add_metric(lv, r.duration)
    yield from (success, duration)
    for (name, doc), rows in _carried(p).items():
        family = Metric(name, doc, "gauge")
        for key, gauge_labels, value in rows:
            own = {"service": key[0], "check": key[1], "kind": p.last[key].kind, "vantage": v}
            family.add_sample(name, {**own, **gauge_labels}, value)
        yield family
    total = CounterMetricFamily("outwatch_probes", "Probes run", labels=labels)
    for (service, check, kind), n in p.probes.items():
        total.add_metric([service, check, kind, v], n)
    errors = CounterMetricFamily(
        "outwatch_probe_errors", "Failed probes by error class", labels=[*labels, "error"]
    )
    for (service, check, kind, err), n in p.errors.items():
        errors.add_metric([service, check, kind, v, err], n)
    yield from (total, errors)


Row = tuple[tuple[str, str], dict[str, str], float]


def _carried(p: Pipeline) -> dict[tuple[str, str], list[Row]]:
    """The gauges each last result carries (blackbox's families), grouped by family.

    Generic on purpose: a probe kind adds families by setting them; nothing here knows kinds.
    """
    out: dict[tuple[str, str], list[Row]] = {}
    for key, last in p.last.items():
        for family, values, value in last.result.gauges():
            rows = out.setdefault((family.name, family.doc), [])
            rows.append((key, dict(zip(family.labels, values, strict=True)), value))
    return out


def _state_families(p: Pipeline, v: str, skip_checks: bool = False) -> Iterator[Metric]:
    m = p.machine
    if not skip_checks:
        yield _check_up(p, v)
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


def _check_up(p: Pipeline, v: str) -> Metric:
    up = GaugeMetricFamily(
        "outwatch_check_up",
        "1 when the check is up, 0 when down (absent while unknown)",
        labels=["service", "check", "kind", "vantage"],
    )
    for (service, check), last in p.last.items():
        state = p.machine.check_state(service, check)
        if state != "unknown":
            up.add_metric([service, check, last.kind, v], 1.0 if state == "up" else 0.0)
    return up


def _family(
    cls: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    doc: str,
    labels: Sequence[str],
    rows: Iterable[tuple[Sequence[str], float]],
) -> Metric:
    family = cls(name, doc, labels=list(labels))
    for lv, value in rows:
        family.add_metric(list(lv), value)
    return family


def gauge(
    name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]
) -> Metric:
    """A gauge family from (label values, value) rows."""
    return _family(GaugeMetricFamily, name, doc, labels, rows)


def counter(
    name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]
) -> Metric:
    """A counter family (name without _total) from (label values, value) rows."""
    return _family(CounterMetricFamily, name, doc, labels, rows)


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


# -- direct text rendering -------------------------------------------------------------------
# generate_latest over the families above costs ~80 us per check (a Sample and a label dict per
# series, then sorting and escaping each one): 10,000 checks took ~0.9 s with the event loop
# blocked. render() writes the same exposition (a test holds it byte-identical) from the
# pipeline directly, with one label string per check; families that are small go through Metric.


def _esc(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _go(value: float) -> str:
    if value == 0.0:
        return "0.0"
    if value == 1.0:
        return "1.0"
    return floatToGoString(value)


def _head(out: list[str], name: str, doc: str, kind: str) -> None:
    doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    out.append(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n")


def _format_family(out: list[str], metric: Metric) -> None:
    """Any family, as generate_latest writes it (used for the small ones)."""
    name = metric.name + "_total" if metric.type == "counter" else metric.name
    _head(out, name, metric.documentation, "untyped" if metric.type == "unknown" else metric.type)
    for s in metric.samples:
        labels = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(s.labels.items()))
        out.append(
            f"{s.name}{{{labels}}} {_go(s.value)}\n" if labels else f"{s.name} {_go(s.value)}\n"
        )


def _render_services(out: list[str], p: Pipeline, v: str) -> None:
    """The per-service families of _state_families, written directly (one line per sample)."""
    m = p.machine
    rows = []
    for service in m.services():
        st = m.status(service)
        g, sv = _esc(p.groups.get(service, "other")), _esc(service)
        rows.append((f'group="{g}",service="{sv}",', f'vantage="{v}"', service, st))
    _head(
        out,
        "outwatch_service_status",
        "Service status: 0 up, 1 degraded, 2 down, -1 unknown",
        "gauge",
    )
    out.extend(
        f"outwatch_service_status{{{a}{b}}} {_go(float(STATUS_VALUE[st]))}\n"
        for a, b, _, st in rows
    )
    _head(out, "outwatch_service_state", "1 for the service's current status", "gauge")
    for a, b, _, st in rows:
        out.extend(
            f'outwatch_service_state{{{a}status="{name}",{b}}} {"1.0" if name == st else "0.0"}\n'
            for name in STATUS_VALUE
        )
    _head(out, "outwatch_service_up", "1 when the service is up", "gauge")
    out.extend(
        f"outwatch_service_up{{{a}{b}}} {'1.0' if st == 'up' else '0.0'}\n" for a, b, _, st in rows
    )
    _head(out, "outwatch_outage_open", "1 while the service has an open outage", "gauge")
    out.extend(
        f"outwatch_outage_open{{{a}{b}}} {'1.0' if m.open_outage(svc) else '0.0'}\n"
        for a, b, svc, _ in rows
    )
    _head(out, "outwatch_outages_total", "Outages opened", "counter")
    out.extend(
        f"outwatch_outages_total{{{a}{b}}} {_go(float(p.outages_total.get(svc, 0)))}\n"
        for a, b, svc, _ in rows
    )


_OWN = ("check", "kind", "service", "vantage")


@lru_cache(maxsize=256)
def _label_order(labels: tuple[str, ...]) -> tuple[int, ...]:
    """Where each label of a sample goes in name order: i < 4 is _OWN[i], else labels[i - 4]."""
    names = [*_OWN, *labels]
    return tuple(sorted(range(len(names)), key=names.__getitem__))


def _carried_lines(p: Pipeline, lbl: dict[tuple[str, str], tuple[str, str]], v: str) -> list[str]:
    """_carried's families as text, in one pass: one line per gauge, grouped by family."""
    lines: dict[str, tuple[Family, list[str]]] = {}
    own: dict[tuple[str, str], tuple[str, ...]] = {}  # label pieces, for gauges with labels
    for key, last in p.last.items():
        a, b = lbl[key]
        for family, values, value in last.result.gauges():
            entry = lines.get(family.name)
            if entry is None:
                entry = lines[family.name] = (family, [])
            if values:
                pieces = own.get(key)
                if pieces is None:
                    pieces = own[key] = (
                        f'check="{_esc(key[1])}"',
                        f'kind="{_esc(last.kind)}"',
                        f'service="{_esc(key[0])}"',
                        f'vantage="{v}"',
                    )
                parts = [
                    *pieces,
                    *(f'{n}="{_esc(x)}"' for n, x in zip(family.labels, values, strict=True)),
                ]
                labels = ",".join(parts[i] for i in _label_order(family.labels))
            else:
                labels = a + b
            entry[1].append(f"{family.name}{{{labels}}} {_go(value)}\n")
    out: list[str] = []
    for family, rows in lines.values():
        _head(out, family.name, family.doc, "gauge")
        out.extend(rows)
    return out


def render(view: StateView) -> bytes:
    """The text exposition of registry_for(view), without building a Metric per check."""
    v, p = _esc(view.vantage), view.pipeline
    m = p.machine
    out: list[str] = []
    # label keys sorted by name, as the text format writes them: check, kind, service, vantage
    lbl = {
        key: (
            f'check="{_esc(key[1])}",kind="{_esc(last.kind)}",',
            f'service="{_esc(key[0])}",vantage="{v}"',
        )
        for key, last in p.last.items()
    }
    lasts = [(lbl[key], last) for key, last in p.last.items()]
    _head(out, "probe_success", "Whether the last probe succeeded", "gauge")
    out.extend(
        f"probe_success{{{a}{b}}} {'1.0' if last.result.ok else '0.0'}\n" for (a, b), last in lasts
    )
    _head(out, "probe_duration_seconds", "Duration of the last probe", "gauge")
    out.extend(
        f"probe_duration_seconds{{{a}{b}}} {_go(last.result.duration)}\n" for (a, b), last in lasts
    )
    out.extend(_carried_lines(p, lbl, v))
    _head(out, "outwatch_probes_total", "Probes run", "counter")
    out.extend(
        f'outwatch_probes_total{{check="{_esc(c)}",kind="{_esc(k)}",service="{_esc(s)}",vantage="{v}"}} {_go(float(n))}\n'
        for (s, c, k), n in p.probes.items()
    )
    _head(out, "outwatch_probe_errors_total", "Failed probes by error class", "counter")
    out.extend(
        f'outwatch_probe_errors_total{{check="{_esc(c)}",error="{_esc(e)}",kind="{_esc(k)}",service="{_esc(s)}",vantage="{v}"}} {_go(float(n))}\n'
        for (s, c, k, e), n in p.errors.items()
    )
    name = "outwatch_check_up"
    _head(out, name, "1 when the check is up, 0 when down (absent while unknown)", "gauge")
    for key, (a, b) in lbl.items():
        state = m.check_state(key[0], key[1])
        if state != "unknown":
            out.append(f"{name}{{{a}{b}}} {'1.0' if state == 'up' else '0.0'}\n")
    _render_services(out, p, v)
    build = GaugeMetricFamily(
        "outwatch_build_info", "outwatch version", labels=["version", "vantage"]
    )
    build.add_metric([__version__, view.vantage], 1)
    _format_family(out, build)
    for family in view.extra_families():
        _format_family(out, family)
    return "".join(out).encode()
