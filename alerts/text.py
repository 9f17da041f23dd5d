"""Readable text for human receivers: titles, lines, escaping and cutting to each limit."""

from __future__ import annotations

import html

from alerts.base import Alert, Notification


def cut(text: str, limit: int, marker: str = "…") -> str:
    """At most `limit` characters, marking where it was cut."""
    return text if len(text) <= limit else text[: max(limit - len(marker), 0)] + marker


def mrkdwn(text: str) -> str:
    """Escape for Slack mrkdwn: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_text(text: str) -> str:
    """Escape for HTML (Telegram parse_mode HTML, email)."""
    return html.escape(text, quote=True)


def alert_name(a: Alert) -> str:
    """alertname, or 'alert'."""
    return a.labels.get("alertname", "alert")


def title(n: Notification) -> str:
    """One line: status, count and what, e.g. `[FIRING:3] service_down service=privatbank`."""
    firing = sum(1 for a in n.alerts if a.status == "firing")
    count = firing if n.status == "firing" else len(n.alerts)
    names = sorted({alert_name(a) for a in n.alerts})
    what = " ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items()) if k != "alertname")
    head = f"[{n.status.upper()}:{count}] {', '.join(names)}"
    return f"{head} {what}".strip()


def alert_summary(a: Alert) -> str:
    """summary / description annotation, or the labels."""
    text = a.annotations.get("summary") or a.annotations.get("description")
    if text:
        return text
    return " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname")


def alert_line(a: Alert) -> str:
    """One line per alert for plain text: status, name, summary, since."""
    since = a.starts_at.strftime("%Y-%m-%d %H:%M UTC")
    end = f", resolved {a.ends_at.strftime('%H:%M UTC')}" if a.ends_at else ""
    return f"{a.status.upper()} {alert_name(a)}: {alert_summary(a)} (since {since}{end})"


def plain(n: Notification, limit: int = 20) -> str:
    """Plain-text body: title, then one line per alert (at most `limit`)."""
    lines = [title(n), ""]
    lines += [f"- {alert_line(a)}" for a in n.alerts[:limit]]
    if len(n.alerts) > limit:
        lines.append(f"… and {len(n.alerts) - limit} more")
    if n.external_url:
        lines += ["", n.external_url]
    return "\n".join(lines)
