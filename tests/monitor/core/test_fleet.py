"""The fleet's quorum and fleet outages, as tables (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import config
from monitor.core.base import ServiceStatus
from monitor.core.fleet import (
    CheckView,
    FleetDecider,
    FleetState,
    Quorum,
    needed,
    verdict,
    verdicts_data,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("quorum", "known", "want"),
    [
        (2, 3, 2),
        (2, 1, 2),
        ("majority", 3, 2),
        ("majority", 4, 3),
        ("majority", 1, 1),
        ("majority", 0, 1),
    ],
)
def test_needed(quorum: Quorum, known: int, want: int) -> None:
    assert needed(quorum, known) == want


D, G, U, N = "down", "degraded", "up", "unknown"
CASES: list[tuple[str, Quorum, dict[str, ServiceStatus | None], str, tuple[str, ...]]] = [
    ("2 of 3 down pages", 2, {"kyiv": D, "lviv": D, "odesa": U}, D, ("kyiv", "lviv")),
    ("1 of 3 down is degraded", 2, {"kyiv": D, "lviv": U, "odesa": U}, G, ("kyiv",)),
    ("majority of 3 is 2", "majority", {"kyiv": D, "lviv": D, "odesa": U}, D, ("kyiv", "lviv")),
    ("majority of 3, one down", "majority", {"kyiv": D, "lviv": U, "odesa": U}, G, ("kyiv",)),
    # an absent vantage is neither up nor down: the majority is of those that know
    ("absent does not count", "majority", {"kyiv": D, "lviv": None, "odesa": U}, G, ("kyiv",)),
    ("two left, both down", "majority", {"kyiv": D, "lviv": D, "odesa": None}, D, ("kyiv", "lviv")),
    # a fixed quorum cannot be met by fewer vantages: one vantage alone never pages
    ("quorum 2, one vantage left", 2, {"kyiv": D, "lviv": None, "odesa": None}, G, ("kyiv",)),
    ("all offline", 2, {"kyiv": None, "lviv": None, "odesa": None}, N, ()),
    ("nobody knows yet", 2, {"kyiv": N, "lviv": N}, N, ()),
    ("degraded everywhere", 2, {"kyiv": G, "lviv": G, "odesa": G}, G, ()),
    ("all up", 2, {"kyiv": U, "lviv": U, "odesa": U}, U, ()),
    ("unknown does not dilute", "majority", {"kyiv": D, "lviv": N, "odesa": N}, D, ("kyiv",)),
]


@pytest.mark.parametrize(
    ("name", "quorum", "views", "status", "down"), CASES, ids=[c[0] for c in CASES]
)
def test_verdict(
    name: str,
    quorum: Quorum,
    views: dict[str, ServiceStatus | None],
    status: str,
    down: tuple[str, ...],
) -> None:
    v = verdict(views, quorum)
    assert (v.status, v.down) == (status, down)
    assert set(v.absent) == {k for k, s in views.items() if s is None}


def _cfg(quorum: Quorum = 2) -> config.Config:
    return config.parse(
        f"""fleet: {{quorum: {quorum}}}
correlation: {{campaign_min_services: 2}}
services:
  - name: bank
    group: bank
    checks: [{{kind: http, url: "http://127.0.0.1:1/", id: web}}, {{kind: tcp, target: "127.0.0.1:1", id: tcp}}]
  - name: gov
    group: gov
    checks: [{{kind: http, url: "http://127.0.0.1:1/", id: web}}]
"""
    )


def _views(
    service: str, states: dict[str, str], checks: tuple[str, ...] = ("web",)
) -> list[CheckView]:
    return [
        CheckView(v, service, c, s, "timeout" if s == D else None, T0)  # type: ignore[arg-type]
        for v, s in states.items()
        for c in checks
    ]


def test_decider_opens_one_incident_at_quorum_and_resolves() -> None:
    dec = FleetDecider(_cfg())
    present = ["kyiv", "lviv", "odesa"]
    one = _views("bank", {"kyiv": D, "lviv": U, "odesa": U}, ("web", "tcp"))
    verdicts, changes = dec.decide(one, present, T0)
    assert verdicts["bank"].status == G and not [c for c in changes if c.incident]
    two = _views("bank", {"kyiv": D, "lviv": D, "odesa": U}, ("web", "tcp"))
    verdicts, changes = dec.decide(two, present, T0 + timedelta(seconds=30))
    opened = [c for c in changes if c.kind == "incident_opened"]
    assert verdicts["bank"].status == D and len(opened) == 1
    assert opened[0].incident is not None and opened[0].incident.observed
    # the same views again change nothing
    _, again = dec.decide(two, present, T0 + timedelta(seconds=31))
    assert not [c for c in again if c.kind == "incident_opened"]
    up = _views("bank", {"kyiv": U, "lviv": U, "odesa": U}, ("web", "tcp"))
    verdicts, changes = dec.decide(up, present, T0 + timedelta(seconds=60))
    assert verdicts["bank"].status == U
    assert dec.state.outages == {}


def test_offline_vantage_opens_nothing() -> None:
    dec = FleetDecider(_cfg())
    # odesa's canaries fail: it is not present; its "down" views are not counted
    views = _views("bank", {"kyiv": U, "lviv": U, "odesa": D}, ("web", "tcp"))
    verdicts, changes = dec.decide(views, ["kyiv", "lviv"], T0, absent=["odesa"])
    assert verdicts["bank"].up == ("kyiv", "lviv")
    assert verdicts["bank"].absent == ("odesa",)
    assert verdicts["bank"].status == U
    assert not [c for c in changes if c.incident]


def test_resumed_state_keeps_the_outage_open() -> None:
    dec = FleetDecider(_cfg())
    present = ["kyiv", "lviv", "odesa"]
    two = _views("bank", {"kyiv": D, "lviv": D, "odesa": U}, ("web", "tcp"))
    dec.decide(two, present, T0)
    snap, corr = dec.state.snapshot(), dec.correlator.snapshot()
    after = FleetDecider(_cfg(), FleetState.restore(snap))
    after.correlator.restore(corr)
    _, changes = after.decide(two, present, T0 + timedelta(seconds=5))
    assert not [c for c in changes if c.kind == "incident_opened"]
    assert [i.id for i in after.correlator.incidents()] == [
        i.id for i in dec.correlator.incidents()
    ]


def test_fleet_of_one_decides_as_a_single_instance() -> None:
    """The same results and notice through the single-instance Engine and through the fleet
    decider (one vantage, quorum 1): the same confirmed incident."""
    from monitor.core.base import Announcement, Classification, Message, Observation
    from monitor.core.engine import Engine

    cfg = _cfg(1)
    engine, dec = Engine(cfg), FleetDecider(cfg)
    first_failure: dict[str, datetime] = {}
    notice = Announcement(
        Message("bank_official", "7", T0 + timedelta(seconds=50), "DDoS attack"),
        Classification("attack", ("bank",), 0.9, ("DDoS",)),
    )
    views: dict[str, CheckView] = {}
    for n in range(12):
        at = T0 + timedelta(seconds=10 * n)
        ok = not 2 <= n <= 8
        for check in ("web", "tcp"):
            obs = Observation("bank", check, "http", at, ok, None if ok else "timeout")
            engine.observe(obs)
            if not ok:
                first_failure.setdefault(check, at)
            state = engine.machine.check_state("bank", check)
            since = first_failure.get(check) if state == D else at
            if ok:
                first_failure.pop(check, None)
            views[check] = CheckView("kyiv", "bank", check, state, obs.error, since)
        dec.decide(list(views.values()), ["kyiv"], at)
        if at == notice.message.published_at:
            engine.announcement(notice, at)
            dec.correlator.announcement(notice, at)
    end = T0 + timedelta(hours=1)
    engine.tick(end)
    dec.decide(list(views.values()), ["kyiv"], end)

    def summary(incidents: list) -> list[tuple[object, ...]]:
        return [
            (
                i.service,
                i.status,
                i.observed,
                i.announced,
                i.confirmed,
                tuple(i.announcements),
                i.flags,
                i.started_at,
            )
            for i in incidents
        ]

    single, fleet = summary(engine.correlator.incidents()), summary(dec.correlator.incidents())
    assert single and single == fleet
    assert single[0][4] is True  # confirmed: observed and announced


def test_fleet_alerts_name_the_vantages_and_keep_one_identity() -> None:
    from monitor.core.fleet import Firing, fleet_alerts

    cfg = _cfg()
    dec = FleetDecider(cfg)
    present = ["kyiv", "lviv", "odesa"]
    two = _views("bank", {"kyiv": D, "lviv": D, "odesa": U}, ("web", "tcp"))
    verdicts, _ = dec.decide(two, present, T0)
    alerts = fleet_alerts(cfg, dec, verdicts, T0)
    down = [a for a in alerts if a.labels["alertname"] == "service_down"]
    assert len(down) == 1
    assert down[0].labels["vantage"] == "fleet" and "campaign" not in down[0].labels
    assert down[0].annotations["vantages_down"] == "kyiv,lviv"
    assert "kyiv, lviv (2 of 3 vantages reporting)" in down[0].annotations["summary"]

    firing = Firing()
    first = firing.update(alerts, T0)
    assert [k.split(":")[0] for _, k in first] == ["firing"] * len(alerts)
    # a new decider resuming from the saved memory notifies nothing new for the same state
    resumed = Firing.restore(firing.snapshot())
    assert resumed.update(alerts, T0 + timedelta(seconds=1)) == []
    # it stops, then fires again: a resolved, then a new firing key
    gone = resumed.update([], T0 + timedelta(seconds=2))
    assert [(a.status, k.split(":")[0]) for a, k in gone] == [("resolved", "resolved")] * len(
        alerts
    )
    again = resumed.update(alerts, T0 + timedelta(seconds=3))
    assert {k for _, k in again}.isdisjoint({k for _, k in first})


def test_only_the_changed_services_are_judged_again() -> None:
    from monitor.core.fleet import ViewBook

    dec = FleetDecider(_cfg())
    book = ViewBook()
    present = ["kyiv", "lviv", "odesa"]
    live = frozenset({"k", "l", "o"})
    inst = {"kyiv": "k", "lviv": "l", "odesa": "o"}
    first = _views("bank", {"kyiv": U, "lviv": U, "odesa": U}, ("web", "tcp")) + _views(
        "gov", {"kyiv": U, "lviv": U, "odesa": U}
    )
    book.add((inst[v.vantage], v) for v in first)
    verdicts, _ = dec.decide(book.views(book.by_service, live), present, T0)
    assert {s: v.status for s, v in verdicts.items()} == {"bank": U, "gov": U}
    touched = book.add((inst[v.vantage], v) for v in _views("gov", {"kyiv": D, "lviv": D}))
    assert touched == {"gov"}
    verdicts, changes = dec.decide(book.views(touched, live), present, T0, only=touched)
    assert {s: v.status for s, v in verdicts.items()} == {"bank": U, "gov": D}
    assert [c.kind for c in changes if c.incident] == ["incident_opened"]
    # an instance that died: its views no longer count
    verdicts, _ = dec.decide(
        book.views(book.by_service, frozenset({"k", "o"})), ["kyiv", "odesa"], T0, ["lviv"]
    )
    assert verdicts["gov"].status == G and verdicts["gov"].absent == ("lviv",)


def test_verdicts_data_remakes_only_what_moved() -> None:
    up = verdict({"kyiv": "up", "lviv": "up"}, 2)
    down = verdict({"kyiv": "down", "lviv": "down"}, 2)
    first = verdicts_data({}, {"bank": up, "gov": up}, {"bank": up, "gov": up})
    assert first == {"bank": up.as_dict(), "gov": up.as_dict()}
    # nothing moved: the very same mapping, so its readers keep what they made of it
    assert verdicts_data(first, {"bank": up, "gov": up}, {}) is first
    moved = verdicts_data(first, {"bank": down, "gov": up}, {"bank": down})
    assert moved == {"bank": down.as_dict(), "gov": up.as_dict()}
    assert moved["gov"] is first["gov"] and first["bank"] == up.as_dict()  # the old one is kept
    # a service no longer configured leaves without a verdict of its own moving
    assert verdicts_data(moved, {"gov": up}, {}) == {"gov": up.as_dict()}
