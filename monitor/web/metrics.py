"""/metrics: the text exposition, written directly from a snapshot (per-check families line by line)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import compress
from math import copysign
from operator import is_not, ne
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from monitor.core.base import CheckState
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


# whole numbers recur (status codes, lengths, expiry times, address hashes): format each once
_WHOLE: dict[float, str] = {}
_MINUS_INF = float("-inf")


def _go(value: float) -> str:
    if value == 0.0:  # -0.0 == 0.0 as a key: tell them apart here
        return "0.0" if copysign(1.0, value) > 0 else "-0.0"
    text = _WHOLE.get(value)
    if text is not None:
        return text
    # floatToGoString is repr() here: Go's exponents start at 1e21
    text = repr(value) if _MINUS_INF < value < 1e6 else floatToGoString(value)
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
_PROBES = ("outwatch_probes_total", "Probes run")
_UP = ("outwatch_check_up", "1 when the check is up, 0 when down (absent while unknown)")
Key = tuple[str, str]  # (service, check)


@lru_cache(maxsize=256)
def _label_order(labels: tuple[str, ...]) -> tuple[int, ...]:
    """Where each label of a sample goes in name order: i < 4 is _OWN[i], else labels[i - 4]."""
    names = [*_OWN, *labels]
    return tuple(sorted(range(len(names)), key=names.__getitem__))


# label-value tuples -> their text, per family whose labels all sort between kind and service
# (phase, for one): each check writes them again with every result
_MIDDLE: dict[Family, dict[tuple[str, ...], str]] = {}


def _middle(family: Family, values: tuple[str, ...]) -> str | None:
    """A labelled family's own labels as text, or None where they sort elsewhere."""
    known = _MIDDLE.get(family)
    if known is None:
        labels = family.labels
        if list(labels) != sorted(labels) or not all("kind" < n < "service" for n in labels):
            return None
        known = _MIDDLE[family] = {}
    text = known.get(values)
    if text is None:
        text = ",".join(f'{n}="{_esc(x)}"' for n, x in zip(family.labels, values, strict=True))
        if len(known) < 4096:
            known[values] = text
    return text


_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}  # one copy of each check's family names


class _Family:
    """One per-check family: its help and each check's lines of it, in the snapshot's order.

    A list beside the snapshot's checks (None: no lines), not a dict by check: ~17 families of
    10,000 checks, and a dict entry costs ~4x a list slot.
    """

    __slots__ = ("doc", "lines")

    def __init__(self, doc: str, size: int) -> None:
        self.doc = doc
        self.lines: list[bytes | None] = [None] * size

    def write(self, out: list[bytes], name: str, kind: str, always: bool = False) -> None:
        """Its header and lines (nothing if it has none, unless `always`)."""
        at = len(out)
        out.append(_head_bytes(name, self.doc, kind))
        out.extend(filter(None, self.lines))
        if len(out) == at + 1 and not always:
            del out[at]


class _Check:
    """One check's labels and the families its kept lines are in."""

    __slots__ = ("a", "b", "families", "kind")

    def __init__(self, kind: str, a: str, b: str) -> None:
        self.kind = kind
        self.a, self.b = a, b  # its labels sorted by name: check, kind, | service, vantage
        self.families: tuple[str, ...] = ()  # the families its lines are in, in order


class CheckLines:
    """Each check's /metrics lines, written when its result changes and kept until the next one.

    The lines are kept per family, one encoded `bytes` per check, so a scrape writes only the
    checks with a new result (or run count, or state) and then joins what is kept: with half of
    10,000 checks changed it writes ~5,000 checks' lines and copies ~170,000 kept ones. Which
    checks changed is found by comparing the snapshot with what the lines were written from,
    list against list in C (~1 ms for 10,000), so writing them between scrapes costs little.
    `update` may run in worker threads (a scrape, the warm-up between scrapes): a lock orders them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vantage = ""
        self._clear()

    def _clear(self) -> None:
        self._checks: dict[Key, _Check] = {}
        self._families = {name: _Family(doc, 0) for name, doc in (_SUCCESS, _DURATION)}
        self._probes = _Family(_PROBES[1], 0)
        self._up = _Family(_UP[1], 0)
        # the snapshot's checks in its order, and what their lines were written from
        self._keys: list[Key] = []
        self._lasts: Sequence[LastResult | None] = []
        self._counts: list[int | None] = []  # outwatch_probes_total, by (service, check, kind)
        self._states: list[CheckState | None] = []
        self._runs: list[tuple[str, str, str]] = []  # each one's key into p.probes

    def update(self, snap: Snapshot) -> None:
        """Rewrite the lines of every check whose result, run count or state is not the kept one."""
        with self._lock:
            self._update(snap.probes, _esc(snap.vantage))

    def write(self, out: list[bytes], p: ProbeSnapshot, v: str) -> None:
        """Update, then append every per-check family (probes run and check_up included)."""
        with self._lock:
            self._update(p, v)
            for name, fam in self._families.items():
                fam.write(out, name, "gauge", name in (_SUCCESS[0], _DURATION[0]))
            self._probes.write(out, _PROBES[0], "counter", True)
            out.append(self._others(p, v))
            self._up.write(out, _UP[0], "gauge", True)

    def _update(self, p: ProbeSnapshot, v: str) -> None:
        if v != self._vantage:
            self._vantage = v
            self._clear()
        keys, lasts = list(p.last), list(p.last.values())
        if keys != self._keys:  # a reload, or a check's first result
            self._realign(keys)
        runs = self._runs
        counts = list(map(p.probes.get, runs))
        states = list(map(p.check_states.get, keys))
        every = range(len(keys))
        todo = set(compress(every, map(is_not, lasts, self._lasts)))
        todo.update(compress(every, map(ne, counts, self._counts)))
        todo.update(compress(every, map(ne, states, self._states)))
        for i in sorted(todo):
            key, last = keys[i], lasts[i]
            relabelled = last is not self._lasts[i] and self._write(i, key, last, v)
            if relabelled:  # a new check, or a new kind: its run count is under a new key
                runs[i] = (key[0], key[1], last.kind)
                counts[i] = p.probes.get(runs[i])
            c = self._checks[key]
            if relabelled or counts[i] != self._counts[i]:
                n = float(counts[i] or 0)
                self._probes.lines[i] = f"{_PROBES[0]}{{{c.a}{c.b}}} {_go(n)}\n".encode()
            if relabelled or states[i] != self._states[i]:
                self._set_up(i, c, states[i] or "unknown")
        self._lasts, self._counts, self._states = lasts, counts, states

    def _realign(self, keys: list[Key]) -> None:
        """Carry what is kept over to the snapshot's checks; forget the lines of removed ones."""
        was = {key: i for i, key in enumerate(self._keys)}
        at = [was.pop(key, None) for key in keys]
        for key in was:  # removed by a reload (their lines are not carried over)
            del self._checks[key]
        for fam in (*self._families.values(), self._probes, self._up):
            fam.lines = _moved(fam.lines, at)
        lasts, counts, states, runs = self._lasts, self._counts, self._states, self._runs
        self._lasts = _moved(lasts, at)
        self._counts = _moved(counts, at)
        self._states = _moved(states, at)
        self._runs = [
            (k[0], k[1], "") if i is None else runs[i] for k, i in zip(keys, at, strict=True)
        ]
        self._keys = keys

    def _set_up(self, i: int, c: _Check, state: str) -> None:
        if state == "unknown":
            self._up.lines[i] = None
        else:
            value = "1.0" if state == "up" else "0.0"
            self._up.lines[i] = f"{_UP[0]}{{{c.a}{c.b}}} {value}\n".encode()

    def _write(self, i: int, key: Key, last: LastResult, v: str) -> bool:
        """A check's new result: its lines of each family it reports, replacing the old ones.
        True when its labels are new (a new check, or a new kind).

        Written straight into the families, with as few container objects as can be: each one
        counts towards a garbage collection, and a full one walks the whole daemon's heap.
        """
        c = self._checks.get(key)
        relabelled = c is None or c.kind != last.kind
        if c is None or relabelled:
            a = f'check="{_esc(key[1])}",kind="{_esc(last.kind)}",'
            old = c.families if c is not None else ()
            c = self._checks[key] = _Check(last.kind, a, f'service="{_esc(key[0])}",vantage="{v}"')
            c.families = old  # its lines there are dropped or replaced below
        r, a, b = last.result, c.a, c.b
        ab = a + b
        fams = self._families
        fams[_SUCCESS[0]].lines[i] = f"probe_success{{{ab}}} {'1.0' if r.ok else '0.0'}\n".encode()
        fams[_DURATION[0]].lines[i] = f"probe_duration_seconds{{{ab}}} {_go(r.duration)}\n".encode()
        names: dict[str, None] = {}
        run, current = "", None
        for family, values, value in r.gauges():
            if family is not current:
                if current is not None:
                    self._put(i, current, run, names)
                current, run = family, ""
            if not values:
                labels = ab
            else:
                middle = _middle(family, values)
                labels = (
                    f"{a}{middle},{b}"
                    if middle is not None
                    else _sorted_labels(key, last.kind, v, family, values)
                )
            run += f"{family.name}{{{labels}}} {_go(value)}\n"
        if current is not None:
            self._put(i, current, run, names)
        for name in c.families:
            if name not in names:
                fams[name].lines[i] = None
        shape = tuple(names)  # checks of one kind mostly share one: keep one copy
        c.families = _SHAPES.setdefault(shape, shape) if len(_SHAPES) < 4096 else shape
        return relabelled

    def _put(self, i: int, family: Family, run: str, names: dict[str, None]) -> None:
        fam = self._families.get(family.name)
        if fam is None:
            fam = self._families[family.name] = _Family(family.doc, len(self._keys))
        if family.name in names:  # met twice (not in a row): grouped, as the text format asks
            fam.lines[i] = (fam.lines[i] or b"") + run.encode()
        else:
            fam.lines[i] = run.encode()
            names[family.name] = None

    def _others(self, p: ProbeSnapshot, v: str) -> bytes:
        """Run counts of checks without a kept result of that kind (a kind changed by a reload),
        then the failed-probe counters (few: written per scrape)."""
        checks, out = self._checks, []
        if len(self._counts) - self._counts.count(None) != len(p.probes):
            for (s, c, k), n in p.probes.items():
                check = checks.get((s, c))
                if check is None or check.kind != k:
                    labels = f'check="{_esc(c)}",kind="{_esc(k)}",service="{_esc(s)}",vantage="{v}"'
                    out.append(f"{_PROBES[0]}{{{labels}}} {_go(float(n))}\n")
        _head(out, "outwatch_probe_errors_total", "Failed probes by error class", "counter")
        out.extend(
            f'outwatch_probe_errors_total{{check="{_esc(c)}",error="{_esc(e)}",kind="{_esc(k)}",service="{_esc(s)}",vantage="{v}"}} {_go(float(n))}\n'
            for (s, c, k, e), n in p.errors.items()
        )
        return "".join(out).encode()


def _moved(values: Sequence[Any], at: list[int | None]) -> list[Any]:
    """`values` of the old checks at their places among the new ones (None for a new one)."""
    return [None if i is None else values[i] for i in at]


@lru_cache(maxsize=1024)
def _head_bytes(name: str, doc: str, kind: str) -> bytes:
    out: list[str] = []
    _head(out, name, doc, kind)
    return out[0].encode()


def _sorted_labels(key: Key, kind: str, v: str, family: Family, values: tuple[str, ...]) -> str:
    own = [
        f'check="{_esc(key[1])}"',
        f'kind="{_esc(kind)}"',
        f'service="{_esc(key[0])}"',
        f'vantage="{v}"',
    ]
    parts = [*own, *(f'{n}="{_esc(x)}"' for n, x in zip(family.labels, values, strict=True))]
    return ",".join(parts[i] for i in _label_order(family.labels))


def render_chunks(
    snap: Snapshot, extra: Iterable[Metric] = (), cache: CheckLines | None = None
) -> list[bytes]:
    """The text exposition of a snapshot as chunks to write in order: the kept per-check lines
    (by reference: a later result replaces them, never changes them), then the rest.

    Pure over the snapshot (copies): safe to run in a worker thread off the event loop. Not
    joined: the server writes a piece at a time, so a scrape never holds a second copy of the
    whole body (at 10,000 checks, ~20 MB that the allocator then keeps).
    """
    v, p = _esc(snap.vantage), snap.probes
    chunks: list[bytes] = []
    (cache or CheckLines()).write(chunks, p, v)
    out: list[str] = []
    _render_services(out, p, v, snap.boosted)
    for family in extra:
        _format_family(out, family)
    chunks.append("".join(out).encode())
    return chunks


def render(snap: Snapshot, extra: Iterable[Metric] = (), cache: CheckLines | None = None) -> bytes:
    """The text exposition of a snapshot, in one piece."""
    return b"".join(render_chunks(snap, extra, cache))
