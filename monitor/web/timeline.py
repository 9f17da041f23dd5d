"""Timelines drawn server-side as inline SVG: what the probes saw beside what was said, on one axis.

The SVG references nothing (no href, no url(), no images, no fonts): colours come from the
page's own stylesheet through class names, so the page's CSP stays `default-src 'none'`.
Every string placed in it goes through the status page's escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from html import escape

from monitor.vocabulary import ANNOUNCEMENT_KINDS, FLAGS

# Bands a lane can hold; each is a CSS class `tl-<kind>` in the page's stylesheet.
BAND_KINDS = ("fail", "down", "degraded", "member", "member-open")
# How a notice's claim about the service is drawn: asserted filled; denied hollow and struck;
# planned or past as a dashed ring (claims come with the classifier's per-service claims)
MARKER_STYLES = ("asserted", "denied", "planned", "past")


@dataclass(frozen=True)
class Band:
    """A stretch of time on a lane: a check failing, an outage, a campaign member's incident."""

    start: datetime
    end: datetime
    kind: str
    title: str = ""


@dataclass(frozen=True)
class Lane:
    """One row of the timeline: a check, the outage, or another campaign member (thin)."""

    label: str
    bands: Sequence[Band] = ()
    thin: bool = False


@dataclass(frozen=True)
class Marker:
    """A notice at the time it was published, coloured by its kind (or its claim's)."""

    at: datetime
    kind: str
    label: str  # a short tag drawn in the marker: the notice's number on the page
    title: str = ""
    style: str = "asserted"  # one of MARKER_STYLES


@dataclass(frozen=True)
class FlagMark:
    """Where a flag was raised."""

    at: datetime
    flag: str


@dataclass(frozen=True)
class Timeline:
    """Everything one drawing shows."""

    start: datetime
    end: datetime
    lanes: Sequence[Lane] = ()
    markers: Sequence[Marker] = ()
    flags: Sequence[FlagMark] = ()
    now: datetime | None = None
    label: str = "timeline"


@dataclass(frozen=True)
class _Geometry:
    width: int
    pad: int = 8
    lane_h: int = 14
    thin_h: int = 6
    label_h: int = 14
    marker_h: int = 48
    flag_h: int = 16
    axis_h: int = 22
    ticks: int = 6
    text: bool = True
    rows: list[str] = field(default_factory=list)


def span_of(times: Sequence[datetime | None], now: datetime) -> tuple[datetime, datetime]:
    """A start and end that hold all `times`, with a margin on each side."""
    known = [t for t in times if t is not None] or [now]
    lo, hi = min(known), max(known)
    # a share of the span, so a replay compressed into seconds is as legible as a real day
    margin = max((hi - lo) * 0.06, timedelta(seconds=5))
    return lo - margin, hi + margin


def render(tl: Timeline, width: int = 960, text: bool = True) -> str:
    """The timeline as one <svg> element, `width` user units wide (it scales to its box)."""
    g = _Geometry(width=width, text=text, ticks=max(3, width // 150))
    if not text:
        g = _Geometry(
            width=width, text=False, lane_h=8, thin_h=4, label_h=0, marker_h=12, flag_h=0, axis_h=0
        )
    if not tl.markers:
        g = replace(g, marker_h=2)
    y = g.pad
    body: list[str] = []
    top = y
    y += g.marker_h + (g.flag_h if tl.flags and text else 0)
    lanes_top = y
    for lane in tl.lanes:
        y = _lane(body, g, tl, lane, y)
    lanes_bottom = y
    body.insert(0, _grid(g, tl, top, lanes_bottom))
    body.append(_now_line(g, tl, top, lanes_bottom))
    body.append(_flags(g, tl, top + g.marker_h, lanes_bottom))
    body.append(_markers(g, tl, top, lanes_bottom))
    if text:
        body.append(_axis(g, tl, lanes_bottom))
        y = lanes_bottom + g.axis_h
    height = max(y + g.pad, lanes_top + g.pad)
    label = escape(tl.label, quote=True)
    return (
        f'<svg class="tl{"" if text else " thumb"}" '
        f'viewBox="0 0 {g.width} {height}" role="img" aria-label="{label}" '
        f'preserveAspectRatio="xMinYMin meet">{"".join(body)}</svg>'
    )


def _x(g: _Geometry, tl: Timeline, t: datetime) -> float:
    total = (tl.end - tl.start).total_seconds() or 1.0
    share = min(1.0, max(0.0, (t - tl.start).total_seconds() / total))
    return round(g.pad + share * (g.width - 2 * g.pad), 1)


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def _lane(body: list[str], g: _Geometry, tl: Timeline, lane: Lane, y: int) -> int:
    if g.text and lane.label:
        body.append(
            f'<text class="tl-label" x="{g.pad}" y="{y + g.label_h - 3}">{escape(lane.label)}</text>'
        )
        y += g.label_h
    h = g.thin_h if lane.thin else g.lane_h
    body.append(
        f'<rect class="tl-track" x="{g.pad}" y="{y}" width="{g.width - 2 * g.pad}" height="{h}"/>'
    )
    for b in lane.bands:
        x0, x1 = _x(g, tl, b.start), _x(g, tl, b.end)
        kind = b.kind if b.kind in BAND_KINDS else "fail"
        w = max(1.5, round(x1 - x0, 1))  # a single failed probe still shows
        body.append(
            f'<rect class="tl-{kind}" x="{x0}" y="{y}" width="{w}" height="{h}">'
            f"{_title(b.title)}</rect>"
        )
    return y + h + (4 if g.text else 2)


def _grid(g: _Geometry, tl: Timeline, top: int, bottom: int) -> str:
    if not g.text:
        return ""
    out = []
    for t in _ticks(tl, g.ticks):
        x = _x(g, tl, t)
        out.append(f'<line class="tl-grid" x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/>')
    return "".join(out)


def _ticks(tl: Timeline, n: int) -> list[datetime]:
    """Round times (whole minutes, 5, 15, 30 minutes, hours…) about n across the span."""
    span = (tl.end - tl.start).total_seconds()
    steps = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
    step = next((s for s in steps if span / s <= n), 86400 * max(1, round(span / 86400 / n)))
    first = tl.start.timestamp() // step * step + step
    out = []
    t = first
    while t < tl.end.timestamp():
        out.append(datetime.fromtimestamp(t, tl.start.tzinfo))
        t += step
    return out


def _axis(g: _Geometry, tl: Timeline, y: int) -> str:
    out = [f'<line class="tl-axis" x1="{g.pad}" y1="{y}" x2="{g.width - g.pad}" y2="{y}"/>']
    ticks = _ticks(tl, g.ticks)
    days = {t.date() for t in ticks}
    seconds = any(t.second for t in ticks)
    for t in ticks:
        x = _x(g, tl, t)
        fmt = ("%H:%M:%S" if seconds else "%H:%M") if len(days) <= 1 else "%d %H:%M"
        out.append(f'<line class="tl-axis" x1="{x}" y1="{y}" x2="{x}" y2="{y + 4}"/>')
        out.append(
            f'<text class="tl-tick" x="{x}" y="{y + 16}" text-anchor="middle">'
            f"{t.strftime(fmt)}</text>"
        )
    out.append(
        f'<text class="tl-tick" x="{g.width - g.pad}" y="{y + 16}" text-anchor="end">UTC</text>'
    )
    return "".join(out)


def _now_line(g: _Geometry, tl: Timeline, top: int, bottom: int) -> str:
    if tl.now is None or not tl.start <= tl.now <= tl.end:
        return ""
    x = _x(g, tl, tl.now)
    return f'<line class="tl-now" x1="{x}" y1="{top}" x2="{x}" y2="{bottom}">{_title("now")}</line>'


def _markers(g: _Geometry, tl: Timeline, top: int, bottom: int) -> str:
    out = []
    r = 9 if g.text else 4
    base = top + (g.marker_h - r - 2 if g.text else r + 1)
    placed: list[tuple[float, int]] = []
    for m in sorted(tl.markers, key=lambda m: m.at):
        x = _x(g, tl, m.at)
        # notices close in time stack upwards instead of hiding each other
        row = 0
        while (
            g.text and row < 2 and any(abs(x - px) < 2 * r + 2 and pr == row for px, pr in placed)
        ):
            row += 1
        placed.append((x, row))
        cy = base - row * (2 * r + 2)
        kind = m.kind if m.kind in ANNOUNCEMENT_KINDS else "other"
        style = m.style if m.style in MARKER_STYLES else "asserted"
        cls = f"tl-notice k-{kind} m-{style}"
        out.append(f'<line class="tl-stem k-{kind}" x1="{x}" y1="{cy}" x2="{x}" y2="{bottom}"/>')
        # asserted: a filled circle; denied: hollow and struck through; planned/past: dashed ring
        shape = f'<circle cx="{x}" cy="{cy}" r="{r}"/>'
        strike = ""
        if style == "denied":
            strike = f'<line x1="{x - r}" y1="{cy + r}" x2="{x + r}" y2="{cy - r}"/>'
        label = ""
        if g.text and m.label:
            label = f'<text x="{x}" y="{cy + 4}" text-anchor="middle">{escape(m.label[:3])}</text>'
        out.append(f'<g class="{cls}">{_title(m.title)}{shape}{strike}{label}</g>')
    return "".join(out)


def _flags(g: _Geometry, tl: Timeline, top: int, bottom: int) -> str:
    out = []
    for f in tl.flags:
        x = _x(g, tl, f.at)
        words = FLAGS.get(f.flag)  # type: ignore[call-overload]
        title = f"{f.flag}: {words.title}" if words else f.flag
        text = ""
        if g.text:
            tx, anchor = _fit(g, x, 7.0 * (len(f.flag) + 2))
            text = f'<text x="{tx}" y="{top + 11}" text-anchor="{anchor}">⚑ {escape(f.flag)}</text>'
        out.append(
            f'<g class="tl-flag">{_title(title)}'
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/>{text}</g>'
        )
    return "".join(out)


def _fit(g: _Geometry, x: float, w: float) -> tuple[float, str]:
    """Where a label of about `w` units goes beside `x` so that it stays inside the drawing."""
    if x + 4 + w <= g.width - g.pad:
        return x + 4, "start"
    if x - 4 - w >= g.pad:
        return x - 4, "end"
    return g.width - g.pad, "end"


def merge(bands: Sequence[Band]) -> list[Band]:
    """Overlapping bands of one kind joined (for thumbnails, where every check shares a lane)."""
    out: list[Band] = []
    for b in sorted(bands, key=lambda b: b.start):
        if out and b.start <= out[-1].end and b.kind == out[-1].kind:
            last = out[-1]
            out[-1] = Band(last.start, max(last.end, b.end), last.kind, last.title)
        else:
            out.append(b)
    return out
