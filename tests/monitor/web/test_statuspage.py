"""The status page renders every service, incident and notice, and escapes what comes from outside."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.web.pages import health_bar
from monitor.web.statuspage import MAX_TEXT, StatusView, render_status_page, safe_url

NOW = datetime(2022, 2, 15, 16, 30, tzinfo=UTC)
HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)"> \u202egnp.exe\u202c "quoted" & done'
)
HOSTILE_URL = "javascript:alert(document.cookie)"


def _iso(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def _check(cid: str, kind: str, target: str, state: str, error: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "kind": kind,
        "target": target,
        "critical": True,
        "state": state,
        "interval": 30.0,
        "last": {
            "at": _iso(0),
            "ok": error is None,
            "error": error,
            "detail": "" if error is None else f"{error} after 10s",
            "duration": 0.12,
            "status_code": 503 if error == "http_status" else None,
        },
    }


def _service(name: str, title: str, group: str, status: str, day: float | None) -> dict[str, Any]:
    down = status == "down"
    return {
        "name": name,
        "title": title,
        "group": group,
        "status": status,
        "outage": {"started_at": _iso(50), "signature": {"timeout": 6, "http_status": 4}}
        if down
        else None,
        "checks": [
            _check(
                "http",
                "http",
                f"https://{name}.example/",
                "down" if down else "up",
                "timeout" if down else None,
            ),
            _check("dns", "dns", f"{name}.example", "up", None),
        ],
        "availability": {"24h": day, "7d": None if day is None else min(1.0, day + 0.01)},
        "bar": _bar(status, day),
    }


def _bar(status: str, day: float | None) -> list[dict[str, Any]]:
    """24 hours of buckets: data for the last 20 h, a degraded blip 6 h ago, the outage now."""
    if day is None:
        return health_bar([], None, NOW)
    outages = [{"started_at": _iso(360), "ended_at": _iso(340), "worst": "degraded"}]
    if status in ("down", "degraded"):
        outages.append({"started_at": _iso(50), "ended_at": None, "worst": status})
    return health_bar(outages, (NOW - timedelta(hours=20), NOW), NOW)


def founding_view(hostile: str = HOSTILE, url: str = HOSTILE_URL) -> StatusView:
    """15 February 2022 at its worst, with one hostile notice from a pinned source."""
    services = [
        _service("privatbank", "PrivatBank", "bank", "down", 0.93),
        _service("oschadbank", "Oschadbank", "bank", "down", 0.95),
        _service("monobank", "Monobank", "bank", "up", 1.0),
        _service("mod", "Ministry of Defence", "government", "down", 0.91),
        _service("zsu", "Armed Forces", "government", "degraded", 0.97),
        _service("diia", "Diia", "government", "unknown", None),
    ]
    attack = {
        "key": "dsszzi/101",
        "source": "dsszzi",
        "kind": "attack",
        "services": ["privatbank", "oschadbank", "mod", "zsu"],
        "text": "Масована DDoS-атака на ресурси Міноборони, ЗСУ, Приватбанку та Ощадбанку.",
        "published_at": _iso(40),
        "url": "https://t.me/dsszzi/101",
    }
    restored = {
        "key": "dsszzi/102",
        "source": "dsszzi",
        "kind": "restored",
        "services": ["privatbank"],
        "text": "Web resources resumed.",
        "published_at": _iso(10),
        "url": "https://t.me/dsszzi/102",
    }
    evil = {
        "key": "spravdi/666",
        "source": "spravdi",
        "kind": "advisory",
        "services": ["mod"],
        "text": hostile,
        "published_at": _iso(5),
        "url": url,
    }
    incidents = [
        {
            "id": "inc-privatbank-1",
            "service": "privatbank",
            "observed": True,
            "announced": True,
            "confirmed": True,
            "status": "open",
            "started_at": _iso(50),
            "ended_at": None,
            "flags": ["restored_claim_while_down"],
            "hints": ["timeouts from this vantage while DNS answers"],
            "campaign": "camp-1",
            "announcements": [attack, restored],
        },
        {
            "id": "inc-mod-1",
            "service": "mod",
            "observed": True,
            "announced": True,
            "confirmed": True,
            "status": "open",
            "started_at": _iso(48),
            "ended_at": None,
            "flags": [],
            "hints": [],
            "campaign": "camp-1",
            "announcements": [attack, evil],
        },
        {
            "id": "inc-oschadbank-1",
            "service": "oschadbank",
            "observed": True,
            "announced": False,
            "confirmed": False,
            "status": "open",
            "started_at": _iso(45),
            "ended_at": None,
            "flags": ["observed_not_announced"],
            "hints": [],
            "campaign": "camp-1",
            "announcements": [],
        },
        {
            "id": "inc-diia-1",
            "service": "diia",
            "observed": False,
            "announced": True,
            "confirmed": False,
            "status": "resolved",
            "started_at": _iso(200),
            "ended_at": _iso(120),
            "flags": ["announced_not_observed"],
            "hints": [],
            "campaign": None,
            "announcements": [],
        },
    ]
    campaigns = [
        {
            "id": "camp-1",
            "services": ["privatbank", "oschadbank", "mod", "zsu"],
            "groups": ["bank", "government"],
            "started_at": _iso(50),
            "status": "open",
        }
    ]
    return StatusView(
        vantage="kyiv-1",
        generated_at=NOW,
        vantage_offline=False,
        services=services,
        incidents=incidents,
        campaigns=campaigns,
        announcements=[evil, restored, attack],
    )


class _Tags(HTMLParser):
    """Collects the element names and attributes an HTML parser sees."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    p.close()
    return p


def test_hostile_notice_is_text_not_markup() -> None:
    page = render_status_page(founding_view())
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert not any(name.startswith("on") for name, _ in parsed.attrs)
    assert "<script>alert(1)</script>" in "".join(parsed.text)  # shown, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page


_OWN = re.compile(r"/((incidents|campaigns)/[A-Za-z0-9@%._~-]+)?")


def _safe_href(h: str) -> bool:
    """An https link out, or one of this instance's own pages (quoted, never `//host`)."""
    return h.startswith("https://") or _OWN.fullmatch(h) is not None


def test_only_https_links() -> None:
    """Outside links are https only; the rest are this instance's own pages."""
    page = render_status_page(founding_view())
    hrefs = [v for k, v in _parse(page).attrs if k == "href"]
    assert hrefs and all(h is not None and _safe_href(h) for h in hrefs), hrefs
    assert "/incidents/inc-mod-1" in hrefs and "/campaigns/camp-1" in hrefs
    assert "https://t.me/dsszzi/102" in hrefs


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://t.me/dsszzi/101", True),
        ("https://example.org/feed/1", True),
        ("HTTPS://t.me/x/1", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("\tjavascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("http://t.me/x/1", False),
        ("https://", False),
        ("https://t.me/x\n/1", False),
        ("https://t.me/x/1\u202e", False),
        ("//t.me/x/1", False),
        (None, False),
        (42, False),
        ("https://t.me/" + "a" * 3000, False),
    ],
)
def test_safe_url(url: Any, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


def test_quotes_in_urls_cannot_break_out_of_attributes() -> None:
    page = render_status_page(founding_view(url='https://t.me/x/1"onmouseover="alert(1)'))
    parsed = _parse(page)
    assert not any(name.startswith("on") for name, _ in parsed.attrs)


def test_every_group_and_service_appears() -> None:
    view = founding_view()
    page = render_status_page(view)
    for group in ("bank", "government"):
        assert f"<h3><bdi>{group}</bdi></h3>" in page
    for svc in view.services:
        assert str(svc["title"]) in page
        assert f'id="svc-{svc["name"]}"' in page


def test_status_is_written_not_only_coloured() -> None:
    page = render_status_page(founding_view())
    for label in ("Down", "Degraded", "Up", "Unknown"):
        assert f"</span> {label}</span>" in page
    assert "3 down, 1 degraded, 1 up, 1 unknown" in page


def test_availability_shown_as_percent() -> None:
    page = render_status_page(founding_view())
    assert "24h 93.00%" in page
    assert "7d 94.00%" in page
    assert "24h 100%" in page
    assert "24h — · 7d —" in page  # no data is not 0%


@pytest.mark.parametrize(
    "flag", ["restored_claim_while_down", "announced_not_observed", "observed_not_announced"]
)
def test_disagreement_flags_are_prominent(flag: str) -> None:
    page = render_status_page(founding_view())
    assert re.search(rf'<li class="flag loud">.*?<strong>{flag}</strong>', page)


def test_campaign_banner_and_incidents() -> None:
    page = render_status_page(founding_view())
    assert 'class="banner campaign"' in page
    assert "4 services across" in page
    assert "(3 open)" in page
    # open incidents come before resolved ones
    assert page.index("inc-oschadbank-1") < page.index("inc-diia-1")
    assert "Масована DDoS-атака" in page


def test_no_campaign_banner_when_none_open() -> None:
    view = founding_view()
    closed = [{**c, "status": "resolved"} for c in view.campaigns]
    page = render_status_page(StatusView(vantage="kyiv-1", generated_at=NOW, campaigns=closed))
    assert 'class="banner campaign"' not in page


def test_vantage_offline_banner() -> None:
    assert "Vantage offline" not in render_status_page(founding_view())
    view = StatusView(vantage="kyiv-1", generated_at=NOW, vantage_offline=True)
    assert "Vantage offline" in render_status_page(view)


def test_page_is_self_contained_and_refreshes() -> None:
    page = render_status_page(founding_view())
    parsed = _parse(page)
    assert '<meta http-equiv="refresh" content="15">' in page
    assert 'name="viewport"' in page
    assert not {"script", "link", "iframe", "object", "embed", "form"} & set(parsed.tags)
    assert not any(k == "src" for k, _ in parsed.attrs)
    assert "@import" not in page and "url(" not in page


def test_huge_text_is_cut() -> None:
    huge = "<b>x</b>" * (1 << 17)  # 1 MiB of markup
    page = render_status_page(founding_view(hostile=huge))
    assert len(page) < 100_000
    assert "<b>" not in page
    # cut to MAX_TEXT characters of source text, never through an entity
    shown = re.findall(r'<p class="text" dir="auto"><bdi>(.*?)</bdi></p>', page)
    longest = max(shown, key=len)
    assert longest.endswith("…")
    assert len(longest.replace("&lt;", "<").replace("&gt;", ">")) == MAX_TEXT
    assert not re.search(r"&[a-z]*…", longest)


def test_bidi_marks_are_isolated_and_controls_removed() -> None:
    page = render_status_page(founding_view(hostile="a\u202eb\x00c\x1bd\ud800e"))
    assert "<bdi>a\u202ebcde</bdi>" in page
    page.encode("utf-8")  # no lone surrogates left


def test_out_of_range_numbers_and_times_are_shown_not_raised() -> None:
    svc = {
        "name": "x",
        "status": "down",
        "outage": {
            "started_at": "0001-01-01T00:00:00+01:00",
            "signature": {"a": float("inf"), "b": 10**400, "c": float("nan"), "d": 1},
        },
        "availability": {"24h": 10**400, "7d": float("nan")},
    }
    inc = {"status": "open", "started_at": "9999-12-31T23:59:59-05:00", "ended_at": "bad"}
    page = render_status_page(StatusView("k", NOW, services=[svc], incidents=[inc]))
    assert "Failures: <bdi>d</bdi> 100%" in page
    assert "24h — · 7d —" in page


def test_empty_view_renders() -> None:
    page = render_status_page(StatusView(vantage="kyiv-1", generated_at=NOW))
    assert "No services configured." in page
    assert "No open or recent incidents." in page
    assert "No announcements yet." in page


_keys = st.sampled_from(
    [
        "name",
        "title",
        "group",
        "status",
        "outage",
        "checks",
        "availability",
        "service",
        "flags",
        "announcements",
        "text",
        "url",
        "started_at",
        "ended_at",
        "published_at",
        "signature",
        "last",
        "services",
        "groups",
        "kind",
        "id",
        "hints",
        "campaign",
        "24h",
        "7d",
        "state",
        "error",
        "status_code",
        "detail",
        "ok",
        "critical",
        "at",
    ]
)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])).map(
        lambda d: d.isoformat()
    )
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_keys | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=12,
)
_item = st.dictionaries(_keys, _json, max_size=10)


@settings(max_examples=80, deadline=None)
@given(
    services=st.lists(_item, max_size=3),
    incidents=st.lists(_item, max_size=3),
    campaigns=st.lists(_item.map(lambda d: {**d, "status": "open"}), max_size=2),
    announcements=st.lists(_item, max_size=3),
    vantage=st.text(max_size=20),
)
def test_malformed_data_never_breaks_the_page(
    services: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    campaigns: list[dict[str, Any]],
    announcements: list[dict[str, Any]],
    vantage: str,
) -> None:
    view = StatusView(vantage, NOW, True, services, incidents, campaigns, announcements)
    page = render_status_page(view)
    page.encode("utf-8")
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert all(v is None or _safe_href(v) for k, v in parsed.attrs if k == "href")


def test_service_bars_have_a_title_per_bucket() -> None:
    page = render_status_page(founding_view())
    cells = re.findall(r'<i class="b b-(\w+)" title="([^"]*)"></i>', page)
    assert len(cells) == 6 * 96
    statuses = {c for c, _ in cells}
    assert statuses == {"up", "degraded", "down", "none"}
    assert any(t.endswith(": no data") for c, t in cells if c == "none")
    assert any(re.fullmatch(r"\d\d:\d\d–\d\d:\d\d UTC: down, 15 min not up", t) for _, t in cells)


def test_one_check_is_not_checks() -> None:
    view = founding_view()
    one = {**view.services[0], "checks": view.services[0]["checks"][:1]}
    page = render_status_page(StatusView("kyiv-1", NOW, services=[one]))
    assert "<summary>1 check</summary>" in page
    assert "<summary>2 checks</summary>" in render_status_page(view)


def test_other_notice_names_no_services() -> None:
    """Words naming a service do not make an `other` notice about it."""
    other = {
        "key": "dsszzi/9",
        "kind": "other",
        "services": ["privatbank"],
        "text": "ПриватБанк оновив тарифи.",
        "published_at": _iso(1),
    }
    attack = {**other, "key": "dsszzi/10", "kind": "attack"}
    page = render_status_page(StatusView("kyiv-1", NOW, announcements=[other, attack]))
    notices = re.findall(r'<li class="notice">.*?</li>', page)
    (o,) = [n for n in notices if "dsszzi/9" in n]
    (a,) = [n for n in notices if "dsszzi/10" in n]
    assert "privatbank" not in o.split('<p class="text"')[0]
    assert "privatbank" in a.split('<p class="text"')[0]


def test_campaign_banner_and_incidents_link_their_pages() -> None:
    view = founding_view()
    thumbs = {"inc-mod-1": '<svg class="tl thumb"></svg>'}
    page = render_status_page(StatusView(**{**view.__dict__, "thumbnails": thumbs}))
    banner = re.search(r'<div class="banner campaign".*?</div>', page)
    assert (
        banner and '<a class="id" href="/campaigns/camp-1"><bdi>camp-1</bdi></a>' in banner.group(0)
    )
    assert '<a class="thumb-link" href="/incidents/inc-mod-1"' in page
    # open incidents come first
    order = [m for m in re.findall(r'href="/incidents/(inc-[a-z]+-1)"', page)]
    assert order.index("inc-diia-1") > max(order.index(i) for i in ("inc-mod-1",))


def test_notices_show_their_claims_and_why() -> None:
    view = founding_view()
    claimed = {
        "key": "dsszzi/201",
        "source": "dsszzi",
        "kind": "attack",
        "services": ["privatbank", "oschadbank"],
        "text": "DDoS на ПриватБанк (вже відновлено) та Ощадбанк.",
        "published_at": _iso(3),
        "url": "https://t.me/dsszzi/201",
        "claims": [
            {
                "service": "privatbank",
                "kind": "restored",
                "polarity": "asserted",
                "time": "now",
                "evidence": ["restored: вже відновлено"],
            },
            {
                "service": "oschadbank",
                "kind": "attack",
                "polarity": "denied",
                "time": "now",
                "evidence": ["<b>DDoS</b>"],
            },
            {
                "service": "oschadbank",
                "kind": "restored",
                "polarity": "asserted",
                "time": "planned",
                "evidence": [],
            },
        ],
    }
    page = render_status_page(replace(view, announcements=[claimed, *view.announcements]))
    assert "<bdi>privatbank</bdi>: restored" in page
    assert "<q><bdi>restored: вже відновлено</bdi></q>" in page
    assert "<bdi>oschadbank</bdi>: attack (denied)" in page
    assert "&lt;b&gt;DDoS&lt;/b&gt;" in page  # the words are text, not markup
    assert "<bdi>oschadbank</bdi>: restored (planned)" in page


def _fleet_view(*fleets: dict[str, Any] | None) -> StatusView:
    """The founding view's first services with a fleet verdict each (None: none yet)."""
    base = founding_view().services
    services = [{**base[i], "fleet": f} for i, f in enumerate(fleets)]
    return replace(founding_view(), vantage="kyiv", services=services)


def test_fleet_status_is_shown_with_the_vantages_that_see_it() -> None:
    degraded = {"status": "degraded", "down": ["lviv"], "up": ["kyiv", "odesa"], "absent": []}
    down = {"status": "down", "down": ["kyiv", "lviv"], "absent": ["odesa"]}
    html = render_status_page(_fleet_view(degraded, down, None))
    # privatbank is down from kyiv's own probes, but the fleet says degraded: the fleet wins
    card = html.split('id="svc-privatbank"')[1].split('id="svc-')[0]
    words = "<strong>Degraded</strong> — down from <bdi>lviv</bdi>; up from <bdi>kyiv</bdi>, "
    assert "badge s-degraded" in card and words + "<bdi>odesa</bdi>" in card
    assert "from <bdi>kyiv</bdi> (this instance): down" in card
    assert 'class="v v-down" title="lviv: down"' in card and 'class="v v-up"' in card
    assert "absent (offline or silent) <bdi>odesa</bdi>" in html.split('id="svc-oschadbank"')[1]
    assert "No fleet status yet" in html.split('id="svc-monobank"')[1]
    assert "Fleet view:" in html and "Fleet status unavailable" not in html
    # the summary counts the fleet's statuses: privatbank degraded, oschadbank down, monobank up
    assert "<title>outwatch · kyiv · 1 down, 1 degraded, 1 up</title>" in html


def test_fleet_status_unavailable_falls_back_and_says_so() -> None:
    html = render_status_page(_fleet_view(None, None))
    assert "Fleet status unavailable" in html and "badge s-down" in html


def test_fleet_vantage_names_are_escaped() -> None:
    hostile = {"status": "down", "down": [HOSTILE, "x" * 500], "up": "not a list"}
    html = render_status_page(_fleet_view(hostile))
    assert "<script>" not in html and "onerror=" not in html.replace("onerror=&quot;", "")
    assert "&lt;script&gt;" in html and "x" * 61 not in html


def test_single_instance_page_has_no_fleet_words() -> None:
    html = render_status_page(founding_view())
    assert "Fleet" not in html and 'class="vantages"' not in html
