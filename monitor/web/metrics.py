"""/metrics: the text exposition, written directly from a snapshot (per-check families line by line)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from monitor.core.stats import HistogramLike
from monitor.web.base import ProbeSnapshot, Snapshot
from probes.base import Family

STATUS_VALUE = {"up": 0, "degraded": 1, "down": 2, "unknown": -1}


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


def _render_services(out: list[str], p: ProbeSnapshot, v: str) -> None:
    """The per-service families of _state_families, written directly (one line per sample)."""
    rows = []
    for service, st in p.statuses.items():
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
        f"outwatch_outage_open{{{a}{b}}} {'1.0' if svc in p.open_outages else '0.0'}\n"
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


def _carried_lines(
    p: ProbeSnapshot, lbl: dict[tuple[str, str], tuple[str, str]], v: str
) -> list[str]:
    """The gauges each last result carries (blackbox's families), one line each, by family.

    Generic on purpose: a probe kind adds families by setting them; nothing here knows kinds.
    """
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


def render(snap: Snapshot, extra: Iterable[Metric] = ()) -> bytes:
    """The text exposition of a snapshot: per-check families written directly, then `extra`."""
    v, p = _esc(snap.vantage), snap.probes
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
        state = p.check_states.get(key, "unknown")
        if state != "unknown":
            out.append(f"{name}{{{a}{b}}} {'1.0' if state == 'up' else '0.0'}\n")
    _render_services(out, p, v)
    for family in extra:
        _format_family(out, family)
    return "".join(out).encode()
