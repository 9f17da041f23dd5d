"""The live terminal view (rich) and the plain log, both drawn from API-shaped snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.demo.summary import Snapshot, alert_stats

STATUS_STYLE = {"up": "green", "degraded": "yellow", "down": "bold red", "unknown": "dim"}
NOTICES_SHOWN = 4
ALERTS_SHOWN = 6


def _hhmm(snap: Snapshot, iso: str | None) -> str:
    day = snap.day_of(iso)
    return f"{day:%H:%M}" if day else "-"


def _last_check(svc: Mapping[str, Any]) -> str:
    for check in svc.get("checks") or ():
        last = check.get("last") or {}
        if last and not last.get("ok"):
            code = last.get("status_code")
            return f"{last.get('error') or 'failed'}{f' {code}' if code else ''}"
    return ""


def services_table(snap: Snapshot) -> Table:
    """Services by group with their status and the last failure."""
    table = Table(title="Services", expand=True, title_justify="left")
    for col in ("group", "service", "status", "last failure"):
        table.add_column(col)
    for svc in sorted(snap.services, key=lambda s: (str(s.get("group")), str(s.get("name")))):
        status = str(svc.get("status") or "unknown")
        table.add_row(  # Text, not str: a title is never read as rich markup
            Text(str(svc.get("group"))),
            Text(str(svc.get("title") or svc.get("name"))),
            Text(status, style=STATUS_STYLE.get(status, "")),
            Text(_last_check(svc)),
        )
    return table


def incidents_table(snap: Snapshot) -> Table:
    """Incidents: observed, announced, flags."""
    table = Table(title="Incidents", expand=True, title_justify="left")
    for col in ("service", "since", "status", "observed", "announced", "flags"):
        table.add_column(col)
    for inc in snap.incidents:
        table.add_row(
            Text(str(inc.get("service"))),
            _hhmm(snap, inc.get("started_at")),
            Text(str(inc.get("status"))),
            "yes" if inc.get("observed") else "-",
            "yes" if inc.get("announced") else "-",
            Text(", ".join(inc.get("flags") or ()), style="bold magenta"),
        )
    return table


def campaign_line(snap: Snapshot) -> Text:
    """The campaign(s), one line each."""
    if not snap.campaigns:
        return Text("Campaign: none yet", style="dim")
    parts = [
        f"Campaign {c.get('status') or ''}: {', '.join(c.get('services') or ())}"
        for c in snap.campaigns
    ]
    return Text("\n".join(parts), style="bold")


def _classified(snap: Snapshot, key: str) -> str:
    """How the daemon classified a notice: `attack: privatbank, oschadbank`, or ''."""
    for a in snap.announcements:
        if a.get("key") == key or f"{a.get('source')}/{a.get('id')}" == key:
            services = ", ".join(a.get("services") or ())
            return f"{a.get('kind') or '?'}{': ' + services if services else ''}"
    return ""


def notices_panel(snap: Snapshot) -> Panel:
    """The latest notices fed, with what the daemon made of them."""
    rows = []
    for n in snap.notices[-NOTICES_SHOWN:]:
        verdict = _classified(snap, n.key)
        row = Text(f"{n.day:%H:%M} ", style="cyan")
        if verdict:
            row.append(f"[{verdict}] ", style="bold")
        row.append(_short(n.text, 110))
        rows.append(row)
    body = Text("\n").join(rows) if rows else Text("none yet", style="dim")
    return Panel(body, title="Official notices", title_align="left")


def alerts_panel(snap: Snapshot) -> Panel:
    """Alerts as the webhook received them, newest last."""
    rows = [
        Text(line, style="red" if line.startswith("FIRING") else "green")
        for line in alert_lines(snap.deliveries)[-ALERTS_SHOWN:]
    ]
    body = Text("\n").join(rows) if rows else Text("none yet", style="dim")
    stats = alert_stats(snap.deliveries)
    title = f"Alerts delivered to the webhook ({stats['notifications']})"
    return Panel(body, title=title, title_align="left")


def alert_lines(deliveries: list[dict[str, Any]]) -> list[str]:
    """One line per alert in each delivered notification."""
    out = []
    for d in deliveries:
        for a in d.get("alerts") or ():
            labels = a.get("labels") or {}
            what = labels.get("service") or labels.get("campaign") or ""
            out.append(f"{str(a.get('status', '')).upper()} {labels.get('alertname', '?')} {what}")
    return out


def render(snap: Snapshot) -> RenderableType:
    """The whole live view."""
    head = Text(
        f"outwatch demo — 15 February 2022, {snap.day:%H:%M} UTC (replayed, {snap.elapsed:5.1f}s)",
        style="bold",
    )
    return Group(
        head,
        services_table(snap),
        incidents_table(snap),
        campaign_line(snap),
        notices_panel(snap),
        alerts_panel(snap),
    )


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def log_lines(prev: Snapshot | None, cur: Snapshot) -> list[str]:
    """What changed since the previous snapshot, as plain log lines stamped with the day's time."""
    stamp = f"{cur.day:%H:%M}"
    out: list[str] = []
    old_status = {s.get("name"): s.get("status") for s in (prev.services if prev else [])}
    for s in cur.services:
        if s.get("status") != old_status.get(s.get("name"), "unknown") and s.get("status"):
            out.append(f"{stamp} service {s.get('name')}: {s.get('status')}")
    old_inc = {i.get("id"): i for i in (prev.incidents if prev else [])}
    for inc in cur.incidents:
        out.extend(_incident_lines(stamp, old_inc.get(inc.get("id")), inc))
    old_camp = {c.get("id"): c for c in (prev.campaigns if prev else [])}
    for c in cur.campaigns:
        before = old_camp.get(c.get("id"))
        if before is None or before.get("services") != c.get("services"):
            out.append(f"{stamp} campaign {c.get('id')}: {', '.join(c.get('services') or ())}")
    seen = len(prev.notices) if prev else 0
    for n in cur.notices[seen:]:
        out.append(f"{stamp} notice {n.key}: {_short(n.text, 100)}")
    sent = len(alert_lines(prev.deliveries)) if prev else 0
    out.extend(f"{stamp} webhook got {line}" for line in alert_lines(cur.deliveries)[sent:])
    return out


def _incident_lines(stamp: str, old: Mapping[str, Any] | None, inc: Mapping[str, Any]) -> list[str]:
    # the id a person can say on a call, then the service
    svc = f"{inc.get('id')} {inc.get('service')}" if inc.get("id") else inc.get("service")
    what = "+".join(k for k in ("observed", "announced") if inc.get(k)) or "-"
    if old is None:
        return [f"{stamp} incident opened: {svc} ({what})"]
    out = []
    if (old.get("observed"), old.get("announced")) != (inc.get("observed"), inc.get("announced")):
        out.append(f"{stamp} incident {svc}: {what}")
    for flag in inc.get("flags") or ():
        if flag not in (old.get("flags") or ()):
            out.append(f"{stamp} incident {svc}: flag {flag}")
    if inc.get("status") != old.get("status"):
        out.append(f"{stamp} incident {svc}: {inc.get('status')}")
    return out
