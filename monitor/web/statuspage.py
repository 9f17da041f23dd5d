"""The status page: one self-contained HTML document for people without Grafana."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from monitor.vocabulary import (
    ANNOUNCEMENT_KINDS,
    FLAGS,
    NO_VANTAGE_YET,
    SERVICE_STATUSES,
    VANTAGE_SEEN,
    VANTAGE_VIEWS,
)

# Everything below comes from probes, config and the internet (announcement text, URLs),
# so every string goes through _text()/_attr() and every class name through a whitelist.

MAX_TEXT = 500
MAX_SHORT = 120
MAX_INCIDENTS = 30
MAX_ANNOUNCEMENTS = 20
MAX_NOTICES_PER_INCIDENT = 5
REFRESH_SECONDS = 15

# The page needs nothing but its inline style. A <meta> repeats it as a second line of
# defence; frame-ancestors only works as a header, which the web layer should send.
_META_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CONTENT_SECURITY_POLICY = _META_CSP + "; frame-ancestors 'none'"

STATUS_LABEL = {"up": "Up", "degraded": "Degraded", "down": "Down", "unknown": "Unknown"}
STATUS_MARK = {"up": "✓", "degraded": "!", "down": "✕", "unknown": "?"}

# Disagreements between what was seen and what was said: shown first and loudly.
LOUD_FLAGS = {flag: words.title for flag, words in FLAGS.items()}

# C0/C1 controls (except tab and newline) are not valid in HTML text; lone surrogates
# cannot be encoded. Bidi overrides are kept but isolated with <bdi>.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class StatusView:
    """Plain data the page is rendered from; the daemon fills it, the renderer only reads it."""

    vantage: str
    generated_at: datetime
    vantage_offline: bool = False
    services: Sequence[Mapping[str, Any]] = ()
    incidents: Sequence[Mapping[str, Any]] = ()
    campaigns: Sequence[Mapping[str, Any]] = ()
    announcements: Sequence[Mapping[str, Any]] = ()
    refresh_seconds: int = REFRESH_SECONDS
    # incident id -> its timeline thumbnail, SVG markup drawn by monitor.web.pages (trusted)
    thumbnails: Mapping[str, str] = field(default_factory=dict)


def _clean(value: Any, limit: int) -> str:
    """A display string: controls removed, cut to `limit` characters before escaping."""
    s = "" if value is None else str(value)
    s = s[: limit * 2]  # bound the work on huge inputs before the regex runs
    s = _CONTROL.sub("", s)
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def _text(value: Any, limit: int = MAX_SHORT) -> str:
    """Escaped text from outside, isolated so bidi marks cannot reorder the page around it."""
    s = _clean(value, limit)
    return f"<bdi>{escape(s)}</bdi>" if s else ""


def _attr(value: Any, limit: int = MAX_SHORT) -> str:
    """An escaped attribute value."""
    return escape(_clean(value, limit), quote=True)


def safe_url(url: Any) -> str | None:
    """The URL if it is a plain https:// link, else None (no javascript:, data:, spaces)."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    if not url.lower().startswith("https://") or len(url) <= len("https://"):
        return None
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        return None
    return url


def _status(value: Any) -> str:
    return value if value in SERVICE_STATUSES else "unknown"


def _kind(value: Any) -> str:
    return value if value in ANNOUNCEMENT_KINDS else "other"


def _parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime, or None when unparsable or out of range."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value[:64])
        except ValueError:
            return None
    else:
        return None
    try:
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _href(kind: str, ident: Any) -> str:
    """`/incidents/<id>` or `/campaigns/<id>`, quoted and escaped for an attribute."""
    return escape(f"/{kind}/{quote(_clean(ident, 200), safe='@')}", quote=True)


def _page_link(kind: str, ident: Any, limit: int = 60) -> str:
    """A link to an incident's or campaign's page, or just its escaped id when it has none."""
    if not isinstance(ident, str) or not _clean(ident, 200):
        return _text(ident, limit) or "—"
    return f'<a class="id" href="{_href(kind, ident)}">{_text(ident, limit)}</a>'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _ago(seconds: float) -> str:
    if seconds < 0:
        return "in the future"
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{int(seconds // 86400)} d ago"


def _time(value: Any, now: datetime) -> str:
    """A <time> element in UTC with how long ago; unparsable input is shown escaped."""
    dt = _parse_time(value)
    if dt is None:
        return _text(value, 40) if value else "—"
    shown = dt.isoformat(sep=" ", timespec="seconds")[:19] + " UTC"
    ago = _ago((now - dt).total_seconds())
    return f'<time datetime="{dt.isoformat()}" title="{ago}">{shown}</time>'


def _duration(start: Any, end: Any, now: datetime) -> str:
    if isinstance(start, int | float) and isinstance(end, int | float):
        s = max(0.0, float(end) - float(start))  # seconds given directly
    else:
        a, b = _parse_time(start), _parse_time(end) or now
        if a is None:
            return ""
        s = max(0.0, (b - a).total_seconds())
    if s < 90:
        return f"{int(s)} s"
    if s < 90 * 60:
        return f"{int(s // 60)} min"
    return f"{s / 3600:.1f} h"


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (bools, strings, NaN, huge ints)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        v = float(value)
    except OverflowError:
        return None
    return v if math.isfinite(v) else None


def _percent(value: Any) -> str:
    v = _number(value)
    if v is None:
        return "—"
    v = min(1.0, max(0.0, v))
    return f"{v * 100:.2f}%" if v < 1 else "100%"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _badge(status: str) -> str:
    return (
        f'<span class="badge s-{status}"><span aria-hidden="true">{STATUS_MARK[status]}</span> '
        f"{STATUS_LABEL[status]}</span>"
    )


def _link(url: Any) -> str:
    """A link showing where it goes (without the scheme), or nothing if the URL is not https."""
    href = safe_url(url)
    if href is None:
        return ""
    return (
        f'<a href="{escape(href, quote=True)}" rel="noopener noreferrer nofollow" '
        f'target="_blank">{_text(href[len("https://") :], 60)}</a>'
    )


def _signature(sig: Any) -> str:
    counts = {str(k): n for k, v in _map(sig).items() if (n := _number(v)) is not None and n > 0}
    total = sum(counts.values())
    if not math.isfinite(total) or total <= 0:
        return ""
    parts = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
    return ", ".join(f"{_text(k, 30)} {round(100 * v / total)}%" for k, v in parts)


def _check_row(check: Mapping[str, Any]) -> str:
    state = _status(check.get("state"))
    last = _map(check.get("last"))
    result = ""
    if last:
        ok = "ok" if last.get("ok") else _text(last.get("error") or "failed", 30)
        code = last.get("status_code")
        result = ok + (f" ({_text(code, 5)})" if code not in (None, "") else "")
        if last.get("detail"):
            result += f' <span class="muted">{_text(last.get("detail"), MAX_SHORT)}</span>'
    crit = "" if check.get("critical", True) else ' <span class="muted">(not critical)</span>'
    return (
        f"<li>{_badge(state)} {_text(check.get('kind'), 20)} "
        f"<code>{_text(check.get('target'), MAX_SHORT)}</code>{crit}"
        f'<div class="muted">{result}</div></li>'
    )


def _fleet(svc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The fleet's verdict on a service (status and vantages per view), or None without one."""
    found = svc.get("fleet")
    return found if isinstance(found, Mapping) else None


def _shown_status(svc: Mapping[str, Any]) -> str:
    """The status a service is shown with: the fleet's when there is one, else this instance's."""
    fleet = _fleet(svc)
    return _status(fleet.get("status") if fleet is not None else svc.get("status"))


def _names(value: Any) -> list[str]:
    return [_clean(n, 60) for n in _list(value)[:50]]


def _fleet_words(fleet: Mapping[str, Any]) -> str:
    """Which vantages see what, in words: `down from lviv; up from kyiv, odesa` (escaped)."""
    parts = []
    for view in VANTAGE_VIEWS:
        names = _names(fleet.get(view))
        if names:
            parts.append(f"{VANTAGE_SEEN[view]} {', '.join(_text(n, 60) for n in names)}")
    return "; ".join(parts) or NO_VANTAGE_YET


def _vantage_dots(fleet: Mapping[str, Any]) -> str:
    """One dot per vantage, coloured by how it sees the service, with its name."""
    dots = [
        f'<li class="v v-{view}" title="{_attr(name, 60)}: {view}">'
        f'<i class="dot" aria-hidden="true"></i>{_text(name, 60)}</li>'
        for view in VANTAGE_VIEWS
        for name in _names(fleet.get(view))
    ]
    return f'<ul class="vantages" aria-label="vantages">{"".join(dots)}</ul>' if dots else ""


def _fleet_block(svc: Mapping[str, Any], vantage: str) -> str:
    """The fleet's verdict with the per-vantage breakdown, and this vantage's own view below."""
    fleet = _fleet(svc)
    own = _status(svc.get("status"))
    mine = f"from {_text(vantage, 60)} (this instance): {STATUS_LABEL[own].lower()}"
    if fleet is None:
        return f'<div class="fleet muted">No fleet status yet · {mine}</div>'
    status = _status(fleet.get("status"))
    return (
        f'<div class="fleet"><strong>{STATUS_LABEL[status]}</strong> — {_fleet_words(fleet)}</div>'
        f'{_vantage_dots(fleet)}<div class="muted">{mine}</div>'
    )


def _service(svc: Mapping[str, Any], now: datetime, vantage: str = "") -> str:
    in_fleet = "fleet" in svc
    status = _shown_status(svc)
    avail = _map(svc.get("availability"))
    name = svc.get("name")
    title = svc.get("title") or name
    outage = _map(svc.get("outage"))
    since = ""
    if outage:
        sig = _signature(outage.get("signature"))
        since = (
            f'<div class="outage">Not up since {_time(outage.get("started_at"), now)}'
            f" ({_duration(outage.get('started_at'), None, now)})"
            + (f"<br>Failures: {sig}" if sig else "")
            + "</div>"
        )
    # in a fleet the bar, availability, outage and checks are this vantage's own probes
    where = f" · from {_text(vantage, 60)}" if in_fleet else ""
    checks = [_map(c) for c in _list(svc.get("checks"))]
    details = ""
    if checks:
        rows = "".join(_check_row(c) for c in checks)
        details = (
            f"<details><summary>{_plural(len(checks), 'check')}</summary>"
            f'<ul class="checks">{rows}</ul></details>'
        )
    return (
        f'<li class="svc s-{status}" id="svc-{_attr(name, 60)}">'
        f'<div class="svc-head"><span class="svc-title">{_text(title)}</span>{_badge(status)}</div>'
        f"{_fleet_block(svc, vantage) if in_fleet else ''}"
        f"{_bar(_list(svc.get('bar')), now)}"
        f'<div class="muted">{_text(name)} · 24h {_percent(avail.get("24h"))}'
        f" · 7d {_percent(avail.get('7d'))}{where}</div>"
        f"{since}{details}</li>"
    )


BAR_WORDS = {"up": "up", "degraded": "degraded", "down": "down", "none": "no data"}


def _bar(buckets: list[Any], now: datetime) -> str:
    """The last 24 hours in small buckets, each with a title saying when and how it went."""
    if not buckets:
        return ""
    cells = []
    for b in (_map(x) for x in buckets[:200]):
        status = str(b.get("status")) if b.get("status") in BAR_WORDS else "none"
        start, end = _parse_time(b.get("start")), _parse_time(b.get("end"))
        when = f"{start:%H:%M}–{end:%H:%M} UTC" if start and end else ""
        bad = _number(b.get("bad")) or 0
        more = f", {_duration(0, bad, now)} not up" if status in ("down", "degraded") else ""
        cells.append(f'<i class="b b-{status}" title="{when}: {BAR_WORDS[status]}{more}"></i>')
    return (
        f'<div class="bar" role="img" aria-label="last 24 hours">{"".join(cells)}</div>'
        '<div class="bar-ends muted"><span>24 h ago</span><span>now</span></div>'
    )


def _services(services: Sequence[Mapping[str, Any]], now: datetime, vantage: str = "") -> str:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for svc in services:
        groups.setdefault(str(svc.get("group") or "other"), []).append(svc)
    if not groups:
        return '<section><h2>Services</h2><p class="muted">No services configured.</p></section>'
    parts = ['<section aria-labelledby="h-services"><h2 id="h-services">Services</h2>']
    for group, members in groups.items():
        items = "".join(_service(s, now, vantage) for s in members)
        parts.append(f'<h3>{_text(group)}</h3><ul class="services">{items}</ul>')
    parts.append("</section>")
    return "".join(parts)


def _summary(services: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = dict.fromkeys(SERVICE_STATUSES, 0)
    for svc in services:
        counts[_shown_status(svc)] += 1
    shown = [f"{counts[s]} {STATUS_LABEL[s].lower()}" for s in SERVICE_STATUSES if counts[s]]
    return ", ".join(shown) or "no services"


def _flags(flags: list[Any]) -> str:
    out = []
    for flag in flags:
        key = str(flag)
        if key in LOUD_FLAGS:
            out.append(
                f'<li class="flag loud"><span aria-hidden="true">⚠</span> <strong>{escape(key)}</strong>: '
                f"{LOUD_FLAGS[key]}</li>"
            )
        else:
            out.append(f'<li class="flag">{_text(key, 60)}</li>')
    # Loud ones first: they are what a SOC must not miss.
    out.sort(key=lambda li: "loud" not in li)
    return f'<ul class="flags">{"".join(out)}</ul>' if out else ""


def _notice(ann: Mapping[str, Any], now: datetime, with_services: bool = False) -> str:
    kind = _kind(ann.get("kind"))
    key = ann.get("key") or ann.get("source")
    services = ""
    # an `other` notice is about none of the services its words happen to name
    if with_services and kind != "other":
        names = [_text(s, 40) for s in _list(ann.get("services"))[:10]]
        services = f" · {', '.join(names)}" if names else ""
    link = _link(ann.get("url"))
    return (
        f'<li class="notice"><div class="muted"><span class="kind k-{kind}">{kind}</span> '
        f"{_text(key, 60)} · {_time(ann.get('published_at'), now)}{services}"
        f"{' · ' + link if link else ''}</div>"
        f'<p class="text" dir="auto">{_text(ann.get("text"), MAX_TEXT)}</p>'
        f"{_claims(_list(ann.get('claims')))}</li>"
    )


def _claims(claims: Sequence[Any]) -> str:
    """What a notice claims, service by service, and the words that decided each claim."""
    items = []
    for raw in claims[:10]:
        c = _map(raw)
        what = _kind(c.get("kind"))
        if c.get("polarity") == "denied":
            what += " (denied)"
        elif (when := c.get("time")) in ("past", "planned"):
            what += f" ({when})"  # one of two known words
        words = ", ".join(f"<q>{_text(w, 60)}</q>" for w in _list(c.get("evidence"))[:6])
        items.append(
            f"<li>{_text(c.get('service') or '—', 40)}: {what}"
            + (f' <span class="muted">· {words}</span>' if words else "")
            + "</li>"
        )
    return f'<ul class="claims">{"".join(items)}</ul>' if items else ""


def _incident(
    inc: Mapping[str, Any], titles: Mapping[str, str], now: datetime, thumb: str = ""
) -> str:
    open_ = inc.get("status") == "open"
    service = str(inc.get("service") or "")
    how = [w for w in ("confirmed", "observed", "announced") if inc.get(w)]
    if "confirmed" in how:
        how = ["confirmed"]  # observed and announced
    hints = "".join(f"<li>{_text(h, MAX_SHORT)}</li>" for h in _list(inc.get("hints"))[:10])
    notices = _list(inc.get("announcements"))[:MAX_NOTICES_PER_INCIDENT]
    campaign = inc.get("campaign")
    ended = "" if open_ else f" → {_time(inc.get('ended_at'), now)}"
    return (
        f'<li class="incident {"open" if open_ else "resolved"}">'
        f'<div class="svc-head"><span class="svc-title">{_text(titles.get(service) or service)}</span>'
        f'<span class="badge {"s-down" if open_ else "s-up"}">{"Open" if open_ else "Resolved"}</span></div>'
        f'<div class="muted">{" + ".join(how) or "—"} · {_time(inc.get("started_at"), now)}{ended}'
        f" ({_duration(inc.get('started_at'), inc.get('ended_at'), now)})"
        + (f" · campaign {_page_link('campaigns', campaign, 40)}" if campaign else "")
        + f" · {_page_link('incidents', inc.get('id'))}</div>"
        + (
            f'<a class="thumb-link" href="{_href("incidents", inc.get("id"))}" '
            f'aria-label="timeline of {_attr(inc.get("id"), 60)}">{thumb}</a>'
            if thumb and isinstance(inc.get("id"), str) and _clean(inc.get("id"), 200)
            else ""
        )
        + f"{_flags(_list(inc.get('flags')))}"
        + (f'<ul class="hints">{hints}</ul>' if hints else "")
        + (
            f'<ul class="notices">{"".join(_notice(_map(a), now) for a in notices)}</ul>'
            if notices
            else ""
        )
        + "</li>"
    )


def _sort_newest(items: Sequence[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return sorted(items, key=lambda i: _parse_time(i.get(key)) or epoch, reverse=True)


def _incidents(
    incidents: Sequence[Any],
    titles: Mapping[str, str],
    now: datetime,
    thumbs: Mapping[str, str] | None = None,
) -> str:
    incs = [_map(i) for i in incidents]
    opened = _sort_newest([i for i in incs if i.get("status") == "open"], "started_at")
    rest = _sort_newest([i for i in incs if i.get("status") != "open"], "started_at")
    shown = (opened + rest)[:MAX_INCIDENTS]
    body = (
        f'<ul class="incidents">{"".join(_incident(i, titles, now, _thumb(i, thumbs)) for i in shown)}</ul>'
        if shown
        else '<p class="muted">No open or recent incidents.</p>'
    )
    return (
        f'<section aria-labelledby="h-incidents"><h2 id="h-incidents">Incidents'
        f' <span class="muted">({len(opened)} open)</span></h2>{body}</section>'
    )


def _thumb(inc: Mapping[str, Any], thumbs: Mapping[str, str] | None) -> str:
    return (thumbs or {}).get(str(inc.get("id")), "")


def _campaigns(campaigns: Sequence[Any], titles: Mapping[str, str], now: datetime) -> str:
    out = []
    for c in (_map(c) for c in campaigns):
        if c.get("status") != "open":
            continue
        members = _list(c.get("services"))
        services = ", ".join(_text(titles.get(str(s)) or s, 40) for s in members[:20])
        groups = ", ".join(_text(g, 40) for g in _list(c.get("groups"))[:10])
        out.append(
            f'<div class="banner campaign" role="alert"><strong>Campaign '
            f"{_page_link('campaigns', c.get('id'), 40)}</strong>: "
            f"{len(members)} services across {groups or '—'} since "
            f"{_time(c.get('started_at'), now)}<br>{services}</div>"
        )
    return "".join(out)


def _announcements(announcements: Sequence[Any], now: datetime) -> str:
    anns = _sort_newest([_map(a) for a in announcements], "published_at")[:MAX_ANNOUNCEMENTS]
    body = (
        f'<ul class="notices">{"".join(_notice(a, now, True) for a in anns)}</ul>'
        if anns
        else '<p class="muted">No announcements yet.</p>'
    )
    return (
        f'<section aria-labelledby="h-ann"><h2 id="h-ann">Latest announcements</h2>{body}</section>'
    )


def _offline(vantage: str) -> str:
    return (
        f'<div class="banner offline" role="alert"><strong>Vantage offline</strong>: '
        f"{_text(vantage, 60)} cannot reach its own reference targets, so failures below "
        "may be this network, not the services.</div>"
    )


def _fleet_note(services: Sequence[Mapping[str, Any]], vantage: str) -> str:
    """In a fleet: whose view the page shows, or that the fleet's is unavailable."""
    if not any("fleet" in s for s in services):
        return ""  # a single instance
    if not any(_fleet(s) is not None for s in services):
        return (
            '<div class="banner offline" role="status"><strong>Fleet status unavailable</strong>: '
            "the shared database is unreachable or no decider has judged yet; statuses below are "
            f"{_text(vantage, 60)}'s own.</div>"
        )
    return (
        '<p class="muted fleet-note">Fleet view: each status is the fleet\'s, from every vantage'
        f" (dots); bars, outages and checks are {_text(vantage, 60)}'s own probes.</p>"
    )


def page(
    title: str, vantage: str, now: datetime, body: str, summary: str = "", refresh: int = 0
) -> str:
    """A whole document around `body` (already escaped): the one head, stylesheet and header."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    sub = f"{summary} · " if summary else ""
    every = f" · refreshes every {refresh} s" if refresh else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"{meta}"
        f'<meta http-equiv="Content-Security-Policy" content="{_META_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(_clean(title, 200))}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<header><h1><a class="home" href="/">outwatch</a> '
        f'<span class="muted">from {_text(vantage, 60)}</span></h1>'
        f'<p class="muted">{sub}updated {_time(now, now)}{every}</p>'
        f"</header><main>{body}</main></body></html>\n"
    )


def render_status_page(view: StatusView) -> str:
    """The whole page as one HTML string: no scripts, no external assets, escaped throughout."""
    now = _aware(view.generated_at)
    services = [_map(s) for s in view.services]
    titles = {str(s.get("name")): str(s.get("title") or s.get("name")) for s in services}
    summary = _summary(services)
    refresh = max(5, int(view.refresh_seconds))
    body = (
        f"{_fleet_note(services, view.vantage)}"
        f"{_offline(view.vantage) if view.vantage_offline else ''}"
        f"{_campaigns(view.campaigns, titles, now)}"
        f"{_incidents(view.incidents, titles, now, view.thumbnails)}"
        f"{_services(services, now, view.vantage)}{_announcements(view.announcements, now)}"
    )
    title = f"outwatch · {_clean(view.vantage, 60)} · {summary}"
    return page(title, view.vantage, now, body, summary, refresh)


CSS = """
:root{--bg:#f6f7f9;--fg:#16181d;--card:#fff;--muted:#5d6470;--line:#d9dde3;
--up:#1a7f37;--deg:#9a6700;--down:#c62828;--unk:#57606a;--warn-bg:#fff4d6;--bad-bg:#fde7e7;--on-badge:#fff;
--fail:#ef9a9a;--adv:#0969da;--none:#e3e6ea}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--fg:#e6e8eb;--card:#181c22;--muted:#9aa3ad;
--line:#2a3038;--up:#3fb950;--deg:#d29922;--down:#f85149;--unk:#8b949e;--warn-bg:#3a2e0c;--bad-bg:#3b1416;--on-badge:#0f1216;
--fail:#8e3b38;--adv:#58a6ff;--none:#262c34}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:anywhere}
header,main{max-width:1100px;margin:0 auto;padding:12px 14px}
h1{font-size:1.3rem;margin:0}h2{font-size:1.1rem;margin:18px 0 8px}h3{font-size:.95rem;margin:12px 0 6px;text-transform:capitalize;color:var(--muted)}
header p{margin:4px 0 0}
.muted{color:var(--muted);font-size:.88em}
ul{list-style:none;margin:0;padding:0}
.services{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:8px}
.svc,.incident,.notice{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.svc{border-left:6px solid var(--unk)}
.svc.s-up{border-left-color:var(--up)}.svc.s-degraded{border-left-color:var(--deg)}.svc.s-down{border-left-color:var(--down)}
.svc-head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.svc-title{font-weight:600}
.badge{display:inline-block;white-space:nowrap;border-radius:999px;padding:1px 8px;font-size:.8rem;font-weight:600;color:var(--on-badge);background:var(--unk)}
.badge.s-up{background:var(--up)}.badge.s-degraded{background:var(--deg)}.badge.s-down{background:var(--down)}
.outage{margin-top:4px;font-size:.88em}
details{margin-top:4px;font-size:.88em}summary{cursor:pointer;color:var(--muted)}
.checks li{margin:6px 0}.checks .badge{font-size:.7rem}
code{font-size:.85em}
.incidents,.notices{display:grid;gap:8px}
.incident{border-left:6px solid var(--up)}.incident.open{border-left-color:var(--down)}
.incident .notices{margin-top:6px}.incident .notice{background:var(--bg)}
.flags{margin:6px 0;display:grid;gap:4px}
.flag{display:inline-block;font-size:.85em;padding:2px 8px;border-radius:6px;background:var(--bg);border:1px solid var(--line)}
.flag.loud{background:var(--warn-bg);border-color:var(--deg);font-size:.92em}
.hints{font-size:.85em;color:var(--muted);margin:4px 0 0 2px}
.hints li::before{content:"· "}
.kind{font-weight:600;text-transform:uppercase;font-size:.75rem;padding:0 6px;border-radius:4px;border:1px solid var(--line)}
.k-attack{color:var(--down)}.k-outage{color:var(--deg)}.k-restored{color:var(--up)}
.text{margin:4px 0 0;white-space:pre-line}
.banner{border-radius:8px;padding:10px 12px;margin:8px 0;border:2px solid var(--down);background:var(--bad-bg)}
.banner.offline{border-color:var(--deg);background:var(--warn-bg)}
a{color:inherit}
a.home{text-decoration:none}a.id{white-space:nowrap}
.page-title{margin:8px 0;font-size:1.15rem}
.k-advisory{color:var(--adv)}.k-other{color:var(--unk)}
.bar{display:flex;gap:1px;height:16px;margin:6px 0 0}
.bar .b{flex:1;min-width:1px;border-radius:1px;background:var(--none)}
.b-up{background:var(--up)!important}.b-degraded{background:var(--deg)!important}.b-down{background:var(--down)!important}
.bar-ends{display:flex;justify-content:space-between;font-size:.7rem}
svg.tl{display:block;width:100%;height:auto;font-family:inherit;background:var(--card);border:1px solid var(--line);border-radius:8px}
svg.thumb{max-width:440px;margin-top:6px}
.tl-narrow{display:none}
.tl-track{fill:var(--none)}
.tl-fail{fill:var(--fail)}.tl-down{fill:var(--down)}.tl-degraded{fill:var(--deg)}
.tl-member{fill:var(--unk);opacity:.7}.tl-member-open{fill:var(--down);opacity:.6}
.tl-label{fill:var(--muted);font-size:11px;paint-order:stroke;stroke:var(--card);stroke-width:3px}.tl-tick{fill:var(--muted);font-size:10px}
.tl-axis{stroke:var(--muted)}.tl-grid{stroke:var(--line)}
.tl-now{stroke:var(--fg);stroke-dasharray:4 3;opacity:.5}
.tl-stem{stroke:currentColor;stroke-dasharray:2 2;opacity:.8}
.tl-notice circle{fill:currentColor;stroke:var(--card);stroke-width:1.5}
.tl-notice text{fill:var(--on-badge);font-size:10px;font-weight:700}
.tl-notice.m-denied circle,.tl-notice.m-planned circle,.tl-notice.m-past circle{fill:var(--card);stroke:currentColor;stroke-width:2}
.tl-notice.m-planned circle,.tl-notice.m-past circle{stroke-dasharray:3 2}
.tl-notice.m-denied line{stroke:currentColor;stroke-width:2}
.tl-notice.m-denied text,.tl-notice.m-planned text,.tl-notice.m-past text{fill:currentColor}
.tl-flag line{stroke:var(--deg);stroke-width:2}
.tl-flag text{fill:var(--deg);font-size:11px;font-weight:700;paint-order:stroke;stroke:var(--card);stroke-width:3px}
.legend span{display:inline-block;margin:4px 12px 0 0;white-space:nowrap}
.lg{display:inline-block;width:14px;height:9px;margin-right:4px;vertical-align:middle;border-radius:2px}
.lg.tl-fail{background:var(--fail)}.lg.tl-down{background:var(--down)}.lg.tl-member{background:var(--unk)}
.lg.dot{width:10px;height:10px;border-radius:50%;background:currentColor}
.lg.hollow{background:transparent;border:2px solid var(--muted)}.lg.dashed{background:transparent;border:2px dashed var(--muted)}
.num{display:inline-block;min-width:1.5em;text-align:center;border-radius:999px;font-weight:700;font-size:.75rem;color:var(--on-badge);background:var(--unk)}
.num.k-attack{background:var(--down)}.num.k-outage{background:var(--deg)}.num.k-restored{background:var(--up)}.num.k-advisory{background:var(--adv)}
ol.notices{list-style:none;margin:0;padding:0}
.evidence dt{font-weight:600;margin-top:8px}.evidence dd{margin:2px 0 0}
.members li{margin:4px 0}
q{quotes:"«" "»"}
.fleet{margin-top:4px;font-size:.9em}.fleet-note{margin:4px 0}
.vantages{display:flex;flex-wrap:wrap;gap:2px 10px;margin:4px 0;font-size:.85em}
.v .dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:4px;background:var(--unk)}
.v-down .dot{background:var(--down)}.v-degraded .dot{background:var(--deg)}.v-up .dot{background:var(--up)}
.v-absent .dot{background:transparent;border:2px dashed var(--unk)}.v-absent{color:var(--muted)}
@media (max-width:520px){body{font-size:14px}.services{grid-template-columns:1fr}
.tl-wide{display:none}.tl-narrow{display:block}}
"""
