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
from monitor.web.base import LastResult, ProbeSnapshot, Snapshot
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
# generate_latest over Metric families costs ~80 us per check (a Sample and a label dict per
# series, then sorting and escaping each one): 10,000 checks took ~0.9 s. render() writes the
# per-check and per-service families directly, one label string per check, in the text format
# generate_latest writes (tests parse it back); families that are small go through Metric.


def _esc(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


# whole numbers recur (expiry times, address hashes): format each once
_WHOLE: dict[float, str] = {}
_MINUS_INF = float("-inf")


def _go(value: float) -> str:
    if _MINUS_INF < value < 1e6:  # floatToGoString is repr() here: Go's exponents start at 1e21
        return repr(value)
    text = _WHOLE.get(value)
    if text is None:
        text = floatToGoString(value)
        if value.is_integer() and len(_WHOLE) < 65536:
            _WHOLE[value] = text
    return text


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


def _render_services(
    out: list[str], p: ProbeSnapshot, v: str, boosted: frozenset[str] = frozenset()
) -> None:
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
    name = "outwatch_check_boosted"
    _head(out, name, "1 while a service's checks run at the boost interval", "gauge")
    out.extend(
        f'{name}{{service="{_esc(svc)}",vantage="{v}"}} {"1.0" if svc in boosted else "0.0"}\n'
        for _, _, svc, _ in rows
    )


_OWN = ("check", "kind", "service", "vantage")
_SUCCESS = ("probe_success", "Whether the last probe succeeded")
_DURATION = ("probe_duration_seconds", "Duration of the last probe")

Row = tuple[str, str, bytes]  # family name, its help, this check's lines of it (joined, encoded)
Entry = tuple[
    LastResult, str, str, tuple[Row, ...]
]  # the last result, its two label halves, its rows


@lru_cache(maxsize=256)
def _label_order(labels: tuple[str, ...]) -> tuple[int, ...]:
    """Where each label of a sample goes in name order: i < 4 is _OWN[i], else labels[i - 4]."""
    names = [*_OWN, *labels]
    return tuple(sorted(range(len(names)), key=names.__getitem__))


class CheckLines:
    """Each check's per-probe lines, written once per result and kept until the next one.

    A scrape every 15 s of checks probed every 30 s finds half of them unchanged; their lines
    (probe_success, probe_duration_seconds and the ~15 blackbox families a result carries) are
    reused as they are, already encoded and one bytes object per family, so a scrape copies
    each line once and 10,000 checks keep ~150,000 small objects fewer. Entries are replaced,
    never changed in place, so renders in worker threads only ever see whole entries.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self._vantage = ""

    def rows(self, p: ProbeSnapshot, v: str) -> list[tuple[tuple[str, str], Entry]]:
        """(key, entry) for every check with a result, in the snapshot's order."""
        if v != self._vantage:
            self._entries, self._vantage = {}, v
        entries, out = self._entries, []
        for key, last in p.last.items():
            e = entries.get(key)
            if e is None or e[0] is not last:
                e = entries[key] = _entry(key, last, v)
            out.append((key, e))
        if len(entries) > len(out) + 1000:  # checks removed by a reload: forget their lines
            self._entries = dict(out)
        return out


def _entry(key: tuple[str, str], last: LastResult, v: str) -> Entry:
    check, kind = f'check="{_esc(key[1])}"', f'kind="{_esc(last.kind)}"'
    service, vantage = f'service="{_esc(key[0])}"', f'vantage="{v}"'
    a, b = f"{check},{kind},", f"{service},{vantage}"
    r = last.result
    rows: list[Row] = [
        (*_SUCCESS, f"probe_success{{{a}{b}}} {'1.0' if r.ok else '0.0'}\n".encode()),
        (*_DURATION, f"probe_duration_seconds{{{a}{b}}} {_go(r.duration)}\n".encode()),
    ]
    run: list[str] = []  # lines of one family, joined when the next family starts
    current: Family | None = None
    for family, values, value in r.gauges():
        if family is not current:
            if current is not None:
                rows.append((current.name, current.doc, "".join(run).encode()))
            current, run = family, []
        if values:
            parts = [
                check,
                kind,
                service,
                vantage,
                *(f'{n}="{_esc(x)}"' for n, x in zip(family.labels, values, strict=True)),
            ]
            labels = ",".join(parts[i] for i in _label_order(family.labels))
        else:
            labels = a + b
        run.append(f"{family.name}{{{labels}}} {_go(value)}\n")
    if current is not None:
        rows.append((current.name, current.doc, "".join(run).encode()))
    # a family met twice (not in a row) is two rows: _per_check still groups them by name
    return last, a, b, tuple(rows)


def _per_check(out: list[bytes], entries: list[tuple[tuple[str, str], Entry]]) -> None:
    """The per-check families, grouped by family in first-seen order."""
    fams: dict[str, tuple[str, list[bytes]]] = {
        _SUCCESS[0]: (_SUCCESS[1], []),
        _DURATION[0]: (_DURATION[1], []),
    }
    for _, (_, _, _, rows) in entries:
        for name, doc, blob in rows:
            fam = fams.get(name)
            if fam is None:
                fam = fams[name] = (doc, [])
            fam[1].append(blob)
    head: list[str] = []
    for name, (doc, blobs) in fams.items():
        _head(head, name, doc, "gauge")
        out.append(head.pop().encode())
        out.extend(blobs)


def render(snap: Snapshot, extra: Iterable[Metric] = (), cache: CheckLines | None = None) -> bytes:
    """The text exposition of a snapshot: per-check families written directly, then `extra`.

    Pure over the snapshot (copies): safe to run in a worker thread off the event loop.
    """
    v, p = _esc(snap.vantage), snap.probes
    entries = (cache or CheckLines()).rows(p, v)
    # label keys sorted by name, as the text format writes them: check, kind, service, vantage
    lbl = {key: (e[1], e[2]) for key, e in entries}
    cached: list[bytes] = []
    _per_check(cached, entries)
    out: list[str] = []
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
    _render_services(out, p, v, snap.boosted)
    for family in extra:
        _format_family(out, family)
    cached.append("".join(out).encode())
    return b"".join(cached)
