"""The incident and campaign pages, and the timelines (full and thumbnail) they are drawn from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from monitor.vocabulary import ERROR_WORDS
from monitor.web import statuspage as sp
from monitor.web.timeline import Band, FlagMark, Lane, Marker, Timeline, merge, render, span_of

MAX_NOTICE_TEXT = 4000
MAX_LANES = 40


@dataclass(frozen=True)
class IncidentView:
    """Plain data the incident page is drawn from; the API fills it."""

    vantage: str
    generated_at: datetime
    incident: Mapping[str, Any]
    titles: Mapping[str, str] = field(default_factory=dict)  # service -> title
    checks: Sequence[str] = ()  # the service's configured checks: a lane each
    outages: Sequence[Mapping[str, Any]] = ()
    results: Sequence[Mapping[str, Any]] = ()  # the service's probe results around it
    notices: Sequence[Mapping[str, Any]] = ()
    members: Sequence[Mapping[str, Any]] = ()  # the other incidents of its campaign


@dataclass(frozen=True)
class CampaignView:
    """Plain data the campaign page is drawn from."""

    vantage: str
    generated_at: datetime
    campaign: Mapping[str, Any]
    members: Sequence[Mapping[str, Any]] = ()
    titles: Mapping[str, str] = field(default_factory=dict)
    notices: Sequence[Mapping[str, Any]] = ()  # every member's, once each


def incident_href(iid: Any) -> str:
    """The incident page's path (ids are quoted: old ones hold ':' and '+')."""
    return "/incidents/" + quote(str(iid), safe="@")


def campaign_href(cid: Any) -> str:
    """The campaign page's path."""
    return "/campaigns/" + quote(str(cid), safe="@")


# -- from data to timeline ---------------------------------------------------------------------


def _t(value: Any) -> datetime | None:
    return sp._parse_time(value)


def failing_bands(results: Sequence[Mapping[str, Any]], until: datetime) -> dict[str, list[Band]]:
    """Each check's failing stretches: from a failed result to the next good one."""
    out: dict[str, list[Band]] = {}
    open_: dict[str, tuple[datetime, Counter[str]]] = {}
    for r in results:
        check, ts = str(r.get("check_id")), _t(r.get("ts"))
        if ts is None:
            continue
        if not r.get("ok"):
            start, errors = open_.setdefault(check, (ts, Counter()))
            errors[str(r.get("error") or "failed")] += 1
        elif check in open_:
            start, errors = open_.pop(check)
            out.setdefault(check, []).append(_fail_band(check, start, ts, errors))
    for check, (start, errors) in open_.items():
        out.setdefault(check, []).append(_fail_band(check, start, until, errors))
    return out


def _fail_band(check: str, start: datetime, end: datetime, errors: Counter[str]) -> Band:
    n = sum(errors.values())
    what = ", ".join(f"{ERROR_WORDS.get(k, k)} {v}" for k, v in errors.most_common(3))
    title = f"{check} failing {_hm(start)}–{_hm(end)} UTC: {n} failed probes ({what})"
    return Band(start, end, "fail", title)


def _hm(t: datetime) -> str:
    return t.strftime("%H:%M")


def _outage_bands(outages: Sequence[Mapping[str, Any]], now: datetime) -> list[Band]:
    out = []
    for o in outages:
        start = _t(o.get("started_at"))
        if start is None:
            continue
        end = _t(o.get("ended_at")) or now
        worst = "degraded" if o.get("worst") == "degraded" else "down"
        title = f"outage ({worst}) {_hm(start)}–{_hm(end) if o.get('ended_at') else 'now'} UTC"
        out.append(Band(start, end, worst, title))
    return out


def notice_look(notice: Mapping[str, Any], service: str) -> tuple[str, str]:
    """(kind, style) a notice is drawn with: its claim about `service` where claims exist.

    Claims (kind, polarity asserted/denied, time now/past/planned) come with the classifier's
    per-service claims; a notice without them is drawn by its overall kind, as asserted.
    """
    for claim in sp._list(notice.get("claims")):
        c = sp._map(claim)
        if c.get("service") not in (None, service):
            continue
        style = "asserted"
        if c.get("polarity") == "denied":
            style = "denied"
        elif c.get("time") in ("planned", "past"):
            style = str(c.get("time"))
        return sp._kind(c.get("kind") or notice.get("kind")), style
    return sp._kind(notice.get("kind")), "asserted"


def _markers(notices: Sequence[Mapping[str, Any]], service: str) -> list[Marker]:
    out = []
    for n, notice in enumerate(notices, 1):
        at = _t(notice.get("published_at"))
        if at is None:
            continue
        kind, style = notice_look(notice, service)
        words = "" if style == "asserted" else f" ({style})"
        title = f"#{n} {kind}{words} · {notice.get('key') or ''} · {_hm(at)} UTC"
        out.append(Marker(at, kind, str(n), title, style))
    return out


def _flag_marks(inc: Mapping[str, Any]) -> list[FlagMark]:
    at = sp._map(inc.get("flags_at"))
    out = []
    for flag in sp._list(inc.get("flags")):
        when = _t(at.get(str(flag)))
        if when is not None:
            out.append(FlagMark(when, str(flag)))
    return out


def incident_timeline(view: IncidentView, now: datetime, thumbnail: bool = False) -> Timeline:
    """The incident on one axis: notices, flags, outage, each check, the campaign's others."""
    inc = view.incident
    service = str(inc.get("service") or "")
    fails = failing_bands(view.results, _t(inc.get("ended_at")) or now)
    outages = _outage_bands(view.outages, now)
    lanes: list[Lane] = []
    if thumbnail:
        every = [b for bands in fails.values() for b in bands]
        lanes.append(Lane("", merge(outages)))
        lanes.append(Lane("", merge(every)))
    else:
        lanes.append(Lane("outage", outages))
        checks = list(dict.fromkeys([*view.checks, *sorted(fails)]))[:MAX_LANES]
        lanes += [Lane(f"check {c}", fails.get(c, [])) for c in checks]
        for m in view.members[:MAX_LANES]:
            lanes.append(Lane(_member_label(m, view.titles), _member_bands(m, now), thin=True))
    markers = _markers(view.notices, service)
    flags = _flag_marks(inc)
    times: list[datetime | None] = [_t(inc.get("started_at")), _t(inc.get("ended_at")) or now]
    times += [m.at for m in markers] + [f.at for f in flags]
    times += [b.start for lane in lanes for b in lane.bands]
    start, end = span_of(times, now)
    title = view.titles.get(service) or service
    return Timeline(
        start, end, lanes, markers, flags, now=now, label=f"Timeline of {inc.get('id')} ({title})"
    )


def _member_label(m: Mapping[str, Any], titles: Mapping[str, str]) -> str:
    svc = str(m.get("service") or "")
    return f"{titles.get(svc) or svc} · {m.get('id')}"


def _member_bands(m: Mapping[str, Any], now: datetime) -> list[Band]:
    start = _t(m.get("started_at"))
    if start is None:
        return []
    open_ = m.get("status") == "open"
    end = (None if open_ else _t(m.get("ended_at"))) or now
    title = f"{m.get('service')} {m.get('id')} {_hm(start)}–{'now' if open_ else _hm(end)} UTC"
    return [Band(start, end, "member-open" if open_ else "member", title)]


def campaign_timeline(view: CampaignView, now: datetime) -> Timeline:
    """The campaign's members stacked on one axis."""
    lanes = [
        Lane(_member_label(m, view.titles), _member_bands(m, now)) for m in view.members[:MAX_LANES]
    ]
    markers = _markers(view.notices, "")
    times: list[datetime | None] = [b.start for lane in lanes for b in lane.bands]
    times += [b.end for lane in lanes for b in lane.bands] + [m.at for m in markers]
    start, end = span_of(times, now)
    label = f"Members of {view.campaign.get('id')}"
    return Timeline(start, end, lanes, markers, now=now, label=label)


def timeline_svg(tl: Timeline) -> str:
    """A wide drawing and a narrow one; the stylesheet shows the one that fits the screen."""
    return (
        f'<div class="tl-wide">{render(tl, 960)}</div>'
        f'<div class="tl-narrow">{render(tl, 340)}</div>'
    )


def thumbnail_svg(view: IncidentView, now: datetime) -> str:
    """A small drawing for the status page: outage, failures and notices, no words."""
    return render(incident_timeline(view, now, thumbnail=True), 300, text=False)


# -- pages ------------------------------------------------------------------------------------


def _notice_item(n: int, notice: Mapping[str, Any], service: str, now: datetime) -> str:
    kind, style = notice_look(notice, service)
    # why: the words of the notice's claim about this service, where it has one
    said = [sp._map(c) for c in sp._list(notice.get("claims"))]
    mine = [c for c in said if c.get("service") == service and sp._list(c.get("evidence"))]
    why = sp._list(mine[0].get("evidence")) if mine else sp._list(notice.get("evidence"))
    words = [sp._text(w, 60) for w in why[:12]]
    decided = (
        f'<div class="muted">decided by: {", ".join(f"<q>{w}</q>" for w in words)}</div>'
        if words
        else ""
    )
    link = sp._link(notice.get("url"))
    claim = "" if style == "asserted" else f' <span class="muted">({style})</span>'
    deleted = ' <span class="muted">(deleted)</span>' if notice.get("deleted") else ""
    return (
        f'<li class="notice" id="n{n}"><div class="muted"><span class="num k-{kind}">{n}</span> '
        f'<span class="kind k-{kind}">{kind}</span>{claim}{deleted} '
        f"{sp._text(notice.get('key'), 60)} · {sp._time(notice.get('published_at'), now)}"
        f"{' · ' + link if link else ''}</div>"
        f'<p class="text" dir="auto">{sp._text(notice.get("text"), MAX_NOTICE_TEXT)}</p>'
        f"{decided}</li>"
    )


def _evidence(view: IncidentView, now: datetime) -> str:
    inc, outages = view.incident, [sp._map(o) for o in view.outages]
    ev = sp._map(inc.get("evidence"))
    rows = []
    checks = ", ".join(sp._text(c, 40) for c in sp._list(ev.get("failing_checks"))[:20])
    rows.append(f"<dt>Failing checks</dt><dd>{checks or 'none now'}</dd>")
    failed = ", ".join(sp._text(c, 40) for c in sorted(failing_bands(view.results, now))[:20])
    if failed:
        rows.append(f"<dt>Checks that failed during it</dt><dd>{failed}</dd>")
    rows.append(f"<dt>Failure signature</dt><dd>{sp._signature(ev.get('signature')) or '—'}</dd>")
    hints = "".join(f"<li>{sp._text(h, sp.MAX_SHORT)}</li>" for h in sp._list(ev.get("hints")))
    rows.append(f'<dt>Hints</dt><dd><ul class="hints">{hints}</ul></dd>' if hints else "")
    outs = "".join(
        f"<li>{sp._text(o.get('worst'), 12)} {sp._time(o.get('started_at'), now)} → "
        f"{sp._time(o.get('ended_at'), now) if o.get('ended_at') else 'now'} "
        f"({sp._duration(o.get('started_at'), o.get('ended_at'), now)})</li>"
        for o in outages[:20]
    )
    rows.append(f"<dt>Outages</dt><dd><ul>{outs}</ul></dd>" if outs else "")
    return f'<section><h2>Evidence</h2><dl class="evidence">{"".join(rows)}</dl></section>'


def _legend() -> str:
    items = [
        ("fail", "check failing"),
        ("down", "outage seen by probes"),
        ("member", "campaign member"),
    ]
    bands = "".join(f'<span><i class="lg tl-{k}"></i>{w}</span>' for k, w in items)
    kinds = "".join(
        f'<span><i class="lg dot k-{k}"></i>{k} notice</span>'
        for k in ("attack", "outage", "restored")
    )
    return (
        f'<p class="legend muted">{bands}{kinds}<span><i class="lg dot hollow"></i>denied</span>'
        '<span><i class="lg dot dashed"></i>planned</span><span>⚑ flag raised</span></p>'
    )


def render_incident_page(view: IncidentView) -> str:
    """One incident: what was seen and said on one axis, then the notices and the evidence."""
    now = sp._aware(view.generated_at)
    inc = view.incident
    service = str(inc.get("service") or "")
    title = view.titles.get(service) or service
    open_ = inc.get("status") == "open"
    how = [w for w in ("confirmed", "observed", "announced") if inc.get(w)][:1]
    campaign = inc.get("campaign")
    camp = (
        f' · campaign <a href="{sp._attr(campaign_href(campaign), 200)}">{sp._text(campaign, 40)}</a>'
        if campaign
        else ""
    )
    ended = "" if open_ else f" → {sp._time(inc.get('ended_at'), now)}"
    body = (
        f'<p class="muted"><a href="/">← status page</a></p>'
        f'<div class="svc-head"><h2 class="page-title">{sp._text(inc.get("id"), 60)} · '
        f"{sp._text(title)}</h2>"
        f'<span class="badge {"s-down" if open_ else "s-up"}">{"Open" if open_ else "Resolved"}</span></div>'
        f'<p class="muted">{" ".join(how) or "—"} · {sp._time(inc.get("started_at"), now)}{ended}'
        f" ({sp._duration(inc.get('started_at'), inc.get('ended_at'), now)}){camp}"
        f' · <a href="/api/v1/incidents/{sp._attr(quote(str(inc.get("id")), safe="@"), 200)}">JSON</a></p>'
        f"{sp._flags(sp._list(inc.get('flags')))}"
        f"<section><h2>Timeline</h2>{timeline_svg(incident_timeline(view, now))}{_legend()}</section>"
        + _notices_section(view.notices, service, now)
        + _evidence(view, now)
        + _members_list(view.members, view.titles, now)
    )
    refresh = sp.REFRESH_SECONDS if open_ else 0  # an open incident's page follows it
    return sp.page(f"{inc.get('id')} · {title}", view.vantage, now, body, refresh=refresh)


def _notices_section(notices: Sequence[Any], service: str, now: datetime) -> str:
    shown = [sp._map(n) for n in notices]
    items = "".join(_notice_item(i, n, service, now) for i, n in enumerate(shown, 1))
    return (
        f'<section><h2>Notices <span class="muted">({len(shown)})</span></h2>'
        + (f'<ol class="notices">{items}</ol>' if items else '<p class="muted">None linked.</p>')
        + "</section>"
    )


def _members_list(
    members: Sequence[Mapping[str, Any]], titles: Mapping[str, str], now: datetime
) -> str:
    if not members:
        return ""
    items = "".join(
        f'<li><a href="{sp._attr(incident_href(m.get("id")), 200)}">{sp._text(m.get("id"), 40)}</a> '
        f"{sp._text(titles.get(str(m.get('service'))) or m.get('service'))} · "
        f"{sp._text(m.get('status'), 10)} · {sp._time(m.get('started_at'), now)}</li>"
        for m in members[:MAX_LANES]
    )
    return f'<section><h2>Campaign members</h2><ul class="members">{items}</ul></section>'


def render_campaign_page(view: CampaignView) -> str:
    """One campaign: its members' incidents stacked on one axis."""
    now = sp._aware(view.generated_at)
    c = view.campaign
    groups = ", ".join(sp._text(g, 40) for g in sp._list(c.get("groups"))[:10])
    open_ = c.get("status") == "open"
    members = [sp._map(m) for m in view.members]
    body = (
        f'<p class="muted"><a href="/">← status page</a></p>'
        f'<div class="svc-head"><h2 class="page-title">Campaign {sp._text(c.get("id"), 40)}</h2>'
        f'<span class="badge {"s-down" if open_ else "s-up"}">{"Open" if open_ else "Closed"}</span></div>'
        f'<p class="muted">{len(sp._list(c.get("services")))} services across {groups or "—"} · '
        f"since {sp._time(c.get('started_at'), now)}"
        + (f" → {sp._time(c.get('ended_at'), now)}" if c.get("ended_at") else "")
        + "</p>"
        f"<section><h2>Timeline</h2>{timeline_svg(campaign_timeline(view, now))}</section>"
        + _members_list(members, view.titles, now)
        + _notices_section(view.notices, "", now)
    )
    refresh = sp.REFRESH_SECONDS if open_ else 0
    return sp.page(f"Campaign {c.get('id')}", view.vantage, now, body, refresh=refresh)


# -- the status page's 24-hour bars ------------------------------------------------------------

BAR_BUCKETS = 96  # a quarter of an hour each over 24 hours


def health_bar(
    outages: Sequence[Mapping[str, Any]],
    data: tuple[datetime, datetime] | None,
    now: datetime,
    hours: float = 24,
    buckets: int = BAR_BUCKETS,
) -> list[dict[str, Any]]:
    """Small buckets over the last `hours`: down / degraded / up / none (no results then)."""
    step = timedelta(hours=hours) / buckets
    start = now - step * buckets
    spans = []
    for o in outages:
        a = _t(o.get("started_at"))
        if a is not None:
            b = _t(o.get("ended_at")) or now
            spans.append((a, b, "degraded" if o.get("worst") == "degraded" else "down"))
    out = []
    for i in range(buckets):
        lo, hi = start + step * i, start + step * (i + 1)
        worst, bad = "up", 0.0
        for a, b, what in spans:
            overlap = (min(b, hi) - max(a, lo)).total_seconds()
            if overlap > 0:
                bad += overlap
                worst = "down" if "down" in (worst, what) else what
        if worst == "up" and (data is None or hi < data[0] or lo > data[1]):
            worst = "none"
        out.append(
            {"start": lo.isoformat(), "end": hi.isoformat(), "status": worst, "bad": round(bad)}
        )
    return out
