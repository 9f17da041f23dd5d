"""Incident and campaign pages: the timeline shows what was seen and said, and escapes all of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from monitor.web.pages import (
    CampaignView,
    IncidentView,
    failing_bands,
    health_bar,
    notice_look,
    render_campaign_page,
    render_incident_page,
    thumbnail_svg,
)

T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> \u202egnp.exe'


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _results() -> list[dict[str, Any]]:
    """`web` fails from 12:07 to 12:40 then recovers; `dns` fails once at 12:20."""
    out = []
    for m in range(0, 60):
        web_ok = not 7 <= m < 40
        out.append({"ts": t(m).isoformat(), "check_id": "web", "ok": web_ok, "error": "timeout"})
        dns_ok = m != 20
        out.append({"ts": t(m).isoformat(), "check_id": "dns", "ok": dns_ok, "error": "dns"})
    return out


def incident_view(hostile: str = "") -> IncidentView:
    """Oschadbank on the founding day: down, announced, 'restored' while still down."""
    inc = {
        "id": "INC-20220215-002",
        "service": "oschadbank",
        "status": "resolved",
        "observed": True,
        "announced": True,
        "confirmed": True,
        "started_at": t(7).isoformat(),
        "ended_at": t(40).isoformat(),
        "flags": ["restored_claim_while_down"],
        "flags_at": {"restored_claim_while_down": t(30).isoformat()},
        "campaign": "CMP-20220215-01",
        "evidence": {
            "failing_checks": ["web"],
            "signature": {"timeout": 30, "http_status": 3},
            "hints": ["timeouts+5xx surge: likely volumetric/DDoS"],
        },
    }
    notices = [
        {
            "key": "dsszzi/101",
            "kind": "attack",
            "text": "Масована DDoS-атака на Ощадбанк. " + hostile,
            "url": "https://t.me/dsszzi/101",
            "published_at": t(12).isoformat(),
            "evidence": ["DDoS-атака", "Ощадбанк"],
        },
        {
            "key": "dsszzi/104",
            "kind": "restored",
            "text": "Роботу відновлено.",
            "url": "javascript:alert(1)",
            "published_at": t(30).isoformat(),
            "evidence": ["відновлено"],
        },
    ]
    members = [
        {
            "id": "INC-20220215-001",
            "service": "privatbank",
            "status": "resolved",
            "started_at": t(0).isoformat(),
            "ended_at": t(35).isoformat(),
        }
    ]
    return IncidentView(
        vantage="kyiv-1",
        generated_at=t(90),
        incident=inc,
        titles={"oschadbank": "Oschadbank", "privatbank": "PrivatBank"},
        checks=["web", "dns"],
        outages=[{"started_at": t(7).isoformat(), "ended_at": t(40).isoformat(), "worst": "down"}],
        results=_results(),
        notices=notices,
        members=members,
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.classes: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self.classes += [v or "" for k, v in attrs if k == "class"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def test_failing_bands_run_from_a_failure_to_the_next_success() -> None:
    bands = failing_bands(_results(), t(90))
    (web,) = bands["web"]
    assert (web.start, web.end) == (t(7), t(40))
    assert "33 failed probes" in web.title and "timed out 33" in web.title
    (dns,) = bands["dns"]
    assert (dns.start, dns.end) == (t(20), t(21))


def test_incident_page_draws_the_join() -> None:
    page = render_incident_page(incident_view())
    p = _parse(page)
    assert "svg" in p.tags
    assert p.classes.count("tl-fail") == 2 * 2  # web and dns, in the wide and the narrow drawing
    assert "tl-notice k-attack m-asserted" in p.classes
    assert "tl-notice k-restored m-asserted" in p.classes
    assert "tl-flag" in p.classes and "tl-member" in p.classes
    text = "".join(p.text)
    assert "⚑ restored_claim_while_down" in text
    assert "INC-20220215-002" in text and "Oschadbank" in text
    assert "«DDoS-атака»" not in text and "DDoS-атака" in text  # quotes come from CSS
    assert "timeouts+5xx surge" in text
    hrefs = [v for k, v in p.attrs if k == "href"]
    assert "/campaigns/CMP-20220215-01" in hrefs and "/incidents/INC-20220215-001" in hrefs
    assert "https://t.me/dsszzi/101" in hrefs and not any("javascript" in (h or "") for h in hrefs)


def test_svg_references_nothing() -> None:
    page = render_incident_page(incident_view())
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        assert not re.search(r"href|url\(|<image|<use|<foreignObject|https?:", svg), svg[:200]


def test_notice_text_stays_text() -> None:
    page = render_incident_page(incident_view(HOSTILE))
    p = _parse(page)
    assert "script" not in p.tags and "img" not in p.tags
    assert "<script>alert(1)</script>" in "".join(p.text)


def test_claims_draw_denied_and_planned_differently() -> None:
    """Once notices carry claims, a denial and a plan are drawn apart from an assertion."""
    denied = {
        "kind": "attack",
        "claims": [{"service": "x", "kind": "attack", "polarity": "denied"}],
    }
    planned = {
        "kind": "restored",
        "claims": [{"service": "x", "kind": "restored", "polarity": "asserted", "time": "planned"}],
    }
    other = {"kind": "attack", "claims": [{"service": "y", "kind": "outage"}]}
    assert notice_look(denied, "x") == ("attack", "denied")
    assert notice_look(planned, "x") == ("restored", "planned")
    assert notice_look(other, "x") == ("attack", "asserted")
    view = incident_view()
    notices = [{**view.notices[0], "claims": denied["claims"]}, view.notices[1]]
    view = IncidentView(**{**view.__dict__, "notices": notices, "incident": {**view.incident}})
    view.incident["service"] = "x"  # type: ignore[index]
    assert "m-denied" in render_incident_page(view)


def test_thumbnail_is_small_and_wordless() -> None:
    svg = thumbnail_svg(incident_view(), t(90))
    p = _parse(svg)
    assert "text" not in p.tags and "tl-fail" in p.classes and "tl-down" in p.classes


def test_campaign_page_stacks_members() -> None:
    view = incident_view()
    members = [*view.members, {**view.incident}]
    page = render_campaign_page(
        CampaignView(
            "kyiv-1",
            t(90),
            {"id": "CMP-20220215-01", "status": "closed", "services": ["privatbank", "oschadbank"]},
            members,
            view.titles,
            view.notices,
        )
    )
    p = _parse(page)
    assert p.classes.count("tl-member") == 2 * 2
    assert "tl-notice k-attack m-asserted" in p.classes and "Роботу відновлено." in page
    assert 'http-equiv="refresh"' not in page  # closed: nothing left to follow
    assert "PrivatBank · INC-20220215-001" in "".join(p.text)


def test_health_bar_buckets() -> None:
    now = t(24 * 60)
    outages = [
        {"started_at": t(23 * 60).isoformat(), "ended_at": t(23 * 60 + 20).isoformat()},
        {"started_at": t(22 * 60).isoformat(), "ended_at": None, "worst": "degraded"},
    ]
    bar = health_bar(outages, (t(12 * 60), now), now)
    assert len(bar) == 96
    assert {b["status"] for b in bar[:40]} == {"none"}  # before the first result
    assert bar[60]["status"] == "up"
    assert bar[88]["status"] == "degraded" and bar[92]["status"] == "down"
    assert bar[92]["bad"] == 15 * 60 * 2  # both overlap it
