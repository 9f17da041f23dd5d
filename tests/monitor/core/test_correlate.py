"""Correlator decisions, as tables of timed events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Correlation
from monitor.core.base import Announcement, Classification, Message, Outage
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change, Incident, hints, shares, vantage_offline

T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
SERVICES = {
    "privatbank": "bank",
    "oschadbank": "bank",
    "monobank": "bank",
    "mod": "government",
    "zsu": "government",
}
CFG = Correlation()  # 2h before, 6h after, 15m quiet, 30m grace, 30m campaign window, 3 services


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


Event = tuple[Any, ...]


def run(events: Sequence[Event], corr: Correlator | None = None) -> tuple[Correlator, list[Change]]:
    """Feed ("open", svc, start) / ("close", svc, start, end) / ("ann", id, kind, svcs, at) /
    ("status", svc, status, at) / ("tick", at) / ("vantage", offline, at[, since])."""
    corr = corr or Correlator(CFG, SERVICES, "kyiv-1")
    out: list[Change] = []
    for ev in events:
        match ev:
            case ("open", svc, start, *rest):
                sig = rest[0] if rest else {"timeout": 3}
                o = Outage(svc, t(start), signature=sig, failing_checks=("http:x",))
                out += corr.outage_opened(o, t(start))
            case ("close", svc, start, end):
                o = Outage(svc, t(start), ended_at=t(end), signature={"timeout": 5})
                out += corr.outage_closed(o, t(end))
            case ("ann", mid, kind, svcs, at):
                msg = Message("dsszzi", str(mid), t(at), "text")
                out += corr.announcement(Announcement(msg, Classification(kind, svcs)), t(at))
            case ("status", svc, status, at):
                out += corr.status(svc, status, t(at))
            case ("tick", at):
                out += corr.tick(t(at))
            case ("vantage", offline, at, *since):
                out += corr.vantage(offline, t(at), t(since[0]) if since else None)
            case _:
                raise AssertionError(ev)
    return corr, out


def final(changes: Sequence[Change]) -> dict[str, Incident]:
    """The last word on each incident (withdrawn ones removed)."""
    seen: dict[str, Incident] = {}
    for c in changes:
        if c.incident is not None:
            if c.kind == "incident_withdrawn":
                seen.pop(c.incident.id, None)
            else:
                seen[c.incident.id] = c.incident
    return seen


def brief(i: Incident) -> tuple[Any, ...]:
    return (
        (i.service, i.started_at),
        i.observed,
        i.announced,
        i.status,
        i.ended_at,
        sorted(i.announcements),
        i.flags,
    )


def by_start(incidents: dict[str, Incident]) -> dict[tuple[str, datetime], Incident]:
    """The same incidents, named as iid() names them."""
    return {(i.service, i.started_at): i for i in incidents.values()}


def iid(svc: str, minutes: float) -> tuple[str, datetime]:
    """What names an incident in these cases: its service and start."""
    return (svc, t(minutes))


CASES: list[tuple[str, list[Event], list[tuple[Any, ...]]]] = [
    (
        "short outage resolves after quiet period, no flag",
        [("open", "mod", 0), ("close", "mod", 0, 10), ("tick", 24), ("tick", 25)],
        [(iid("mod", 0), True, False, "resolved", t(10), [], ())],
    ),
    (
        "down past announce grace: observed_not_announced",
        [("open", "mod", 0), ("tick", 29), ("tick", 30)],
        [(iid("mod", 0), True, False, "open", None, [], ("observed_not_announced",))],
    ),
    (
        "late notice clears observed_not_announced and confirms",
        [("open", "mod", 0), ("tick", 31), ("ann", 1, "attack", ("mod",), 40)],
        [(iid("mod", 0), True, True, "open", None, ["dsszzi/1"], ())],
    ),
    (
        "notice before the outage: one incident from the notice",
        [("ann", 1, "attack", ("mod",), -30), ("open", "mod", 0)],
        [(iid("mod", -30), True, True, "open", None, ["dsszzi/1"], ())],
    ),
    (
        "advisory exactly window_before ahead links",
        [("ann", 1, "advisory", ("mod",), -120), ("open", "mod", 0)],
        [(iid("mod", 0), True, False, "open", None, ["dsszzi/1"], ())],
    ),
    (
        "advisory just before window_before does not link",
        [("ann", 1, "advisory", ("mod",), -120.01), ("open", "mod", 0)],
        [(iid("mod", 0), True, False, "open", None, [], ())],
    ),
    (
        "notice exactly window_after after the end links to the resolved incident",
        [("open", "mod", 0), ("close", "mod", 0, 10), ("ann", 1, "attack", ("mod",), 370)],
        [(iid("mod", 0), True, True, "resolved", t(10), ["dsszzi/1"], ())],
    ),
    (
        "attack notice after window_after opens a new incident",
        [("open", "mod", 0), ("close", "mod", 0, 10), ("ann", 1, "attack", ("mod",), 370.01)],
        [
            (iid("mod", 0), True, False, "resolved", t(10), [], ()),
            (iid("mod", 370.01), False, True, "open", None, ["dsszzi/1"], ()),
        ],
    ),
    (
        "two episodes of one service",
        [("open", "mod", 0), ("close", "mod", 0, 10), ("open", "mod", 60), ("tick", 61)],
        [
            (iid("mod", 0), True, False, "resolved", t(10), [], ()),
            (iid("mod", 60), True, False, "open", None, [], ()),
        ],
    ),
    (
        "a relapse within the quiet period is the same episode",
        [("open", "mod", 0), ("close", "mod", 0, 10), ("open", "mod", 20), ("tick", 50)],
        [(iid("mod", 0), True, False, "open", None, [], ("observed_not_announced",))],
    ),
    (
        "announced, probes see it up past the grace: announced_not_observed",
        [("status", "zsu", "up", 0), ("ann", 1, "attack", ("zsu",), 0), ("tick", 30)],
        [(iid("zsu", 0), False, True, "open", None, ["dsszzi/1"], ("announced_not_observed",))],
    ),
    (
        "announced-only resolves after window_after",
        [("ann", 1, "outage", ("zsu",), 0), ("tick", 359), ("tick", 361)],
        [(iid("zsu", 0), False, True, "resolved", t(360), ["dsszzi/1"], ())],
    ),
    (
        "announced-only resolves on a restored notice",
        [("ann", 1, "attack", ("zsu",), 0), ("ann", 2, "restored", ("zsu",), 45)],
        [(iid("zsu", 0), False, True, "resolved", t(45), ["dsszzi/1", "dsszzi/2"], ())],
    ),
    (
        "restored while probes see it down",
        [
            ("open", "privatbank", 0),
            ("status", "privatbank", "down", 0),
            ("ann", 1, "attack", ("privatbank",), 5),
            ("ann", 2, "restored", ("privatbank",), 50),
        ],
        [
            (
                iid("privatbank", 0),
                True,
                True,
                "open",
                None,
                ["dsszzi/1", "dsszzi/2"],
                ("restored_claim_while_down",),
            )
        ],
    ),
    (
        "kind other and unknown services are ignored",
        [("ann", 1, "other", ("zsu",), 0), ("ann", 2, "attack", ("nosuch",), 0), ("tick", 400)],
        [],
    ),
    (
        "observed later becomes observed: announced_not_observed cleared",
        [
            ("status", "zsu", "up", 0),
            ("ann", 1, "attack", ("zsu",), 0),
            ("tick", 31),
            ("open", "zsu", 40),
        ],
        [(iid("zsu", 0), True, True, "open", None, ["dsszzi/1"], ())],
    ),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_incidents(events: list[Event], expected: list[tuple[Any, ...]]) -> None:
    _, changes = run(events)
    assert sorted(brief(i) for i in final(changes).values()) == sorted(expected)


def test_announcement_lag_is_on_the_confirming_change() -> None:
    _, changes = run([("open", "mod", 0), ("ann", 1, "attack", ("mod",), 12)])
    lags = [(c.kind, c.announcement_lag) for c in changes if c.announcement_lag is not None]
    assert lags == [("incident_updated", 720.0)]
    _, changes = run([("ann", 1, "attack", ("mod",), -5), ("open", "mod", 0)])
    assert [c.announcement_lag for c in changes if c.announcement_lag is not None] == [0.0]


CAMPAIGNS: list[tuple[str, list[Event], list[tuple[str, ...]]]] = [
    (
        "three within the window form a campaign, a fourth within the window of the last joins",
        [("open", "privatbank", 0), ("open", "oschadbank", 10), ("open", "mod", 20)]
        + [("open", "zsu", 50)],
        [("privatbank", "oschadbank", "mod", "zsu")],
    ),
    (
        "a fourth just past the window of the last does not join",
        [("open", "privatbank", 0), ("open", "oschadbank", 10), ("open", "mod", 20)]
        + [("open", "zsu", 50.01)],
        [("privatbank", "oschadbank", "mod")],
    ),
    (
        "span exactly the window forms",
        [("open", "privatbank", 0), ("open", "mod", 15), ("open", "zsu", 30)],
        [("privatbank", "mod", "zsu")],
    ),
    (
        "span just past the window does not form",
        [("open", "privatbank", 0), ("open", "mod", 15), ("open", "zsu", 30.01)],
        [],
    ),
    (
        "two services are not a campaign",
        [("open", "privatbank", 0), ("open", "mod", 1)],
        [],
    ),
    (
        "one announcement naming three services is a campaign",
        [("ann", 1, "attack", ("privatbank", "oschadbank", "mod"), 0)],
        [("mod", "oschadbank", "privatbank")],  # same start: by name
    ),
]


@pytest.mark.parametrize(
    ("events", "expected"), [c[1:] for c in CAMPAIGNS], ids=[c[0] for c in CAMPAIGNS]
)
def test_campaigns(events: list[Event], expected: list[tuple[str, ...]]) -> None:
    corr, changes = run(events)
    assert [c.services for c in corr.campaigns()] == expected
    for camp in corr.campaigns():
        assert camp.id == f"CMP-{camp.started_at:%Y%m%d}-01"
        for inc in final(changes).values():
            assert (inc.campaign == camp.id) == (inc.service in camp.services)


def test_campaign_closes_when_every_member_resolved() -> None:
    events: list[Event] = [("open", s, m) for s, m in (("privatbank", 0), ("mod", 5), ("zsu", 9))]
    events += [("close", s, m, 20) for s, m in (("privatbank", 0), ("mod", 5), ("zsu", 9))]
    corr, changes = run([*events, ("tick", 34)])
    assert [c.kind for c in changes if c.campaign] == ["campaign_opened"]
    corr, changes = run([("tick", 35)], corr)
    closed = [c.campaign for c in changes if c.kind == "campaign_closed"]
    assert len(closed) == 1 and closed[0] is not None and closed[0].ended_at == t(20)
    assert corr.campaigns() == []


VANTAGE_DARK: list[Event] = [
    # canaries fail with everything: the guard decided before the outages opened
    ("vantage", True, 0),
    *[("open", s, 1) for s in SERVICES],
    *[("close", s, 1, 20) for s in SERVICES],
    ("vantage", False, 20),
    ("tick", 60),
]
VANTAGE_LATE: list[Event] = [
    # outages opened first, the canaries' verdict came a minute later: withdraw them
    *[("open", s, 0) for s in SERVICES],
    ("vantage", True, 1, 0),
    *[("close", s, 0, 20) for s in SERVICES],
    ("vantage", False, 20),
    ("tick", 60),
]


@pytest.mark.parametrize("events", [VANTAGE_DARK, VANTAGE_LATE], ids=["guard-first", "late"])
def test_vantage_offline_opens_no_incidents(events: list[Event]) -> None:
    corr, changes = run(events)
    assert final(changes) == {}
    assert corr.incidents() == [] and corr.campaigns() == []
    kinds = [c.kind for c in changes]
    assert kinds.count("vantage_offline") == 1 and kinds.count("vantage_online") == 1
    (gap,) = corr.gaps()
    assert gap.ended_at == t(20) and len(gap.outages) == len(SERVICES)


def test_outage_still_open_after_the_gap_is_real() -> None:
    events: list[Event] = [("vantage", True, 0), ("open", "mod", 1), ("open", "zsu", 2)]
    events += [("vantage", False, 20), ("close", "zsu", 2, 22), ("tick", 34)]
    corr, changes = run(events)
    assert final(changes) == {}
    corr, changes = run([("tick", 35)], corr)
    assert [brief(i)[0] for i in final(changes).values()] == [iid("mod", 1)]
    (gap,) = corr.gaps()
    assert gap.outages == (f"mod@{t(1).isoformat()}", f"zsu@{t(2).isoformat()}")


def test_vantage_offline_keeps_earlier_incidents() -> None:
    _, changes = run([("open", "mod", 0), ("vantage", True, 10), ("vantage", False, 15)])
    assert [brief(i)[0] for i in final(changes).values()] == [iid("mod", 0)]


def test_restart_in_the_middle_of_an_incident() -> None:
    first: list[Event] = [
        ("open", "privatbank", 0),
        ("status", "privatbank", "down", 0),
        ("open", "oschadbank", 5),
        ("ann", 1, "attack", ("privatbank", "oschadbank"), 8),
        ("open", "mod", 12),
    ]
    second: list[Event] = [
        ("open", "mod", 12),  # the daemon replays what it had: no duplicate
        ("ann", 1, "attack", ("privatbank", "oschadbank"), 8),
        ("ann", 2, "restored", ("privatbank",), 40),
        ("close", "oschadbank", 5, 30),
        ("close", "mod", 12, 31),
        ("tick", 60),
    ]
    whole, all_changes = run(first + second)
    corr, changes = run(first)
    snap = json.loads(json.dumps(corr.snapshot()))
    resumed = Correlator(CFG, SERVICES, "kyiv-1")
    resumed.restore(snap)
    resumed, later = run(second, resumed)
    assert resumed.snapshot() == whole.snapshot()
    assert final(changes + later) == final(all_changes)
    assert [c.kind for c in later if c.kind.endswith("opened")] == []


def test_boosts() -> None:
    corr, _ = run([("ann", 1, "attack", ("mod",), 0)])
    assert corr.boosts(t(0)) == {"mod": t(30)}
    assert corr.boosts(t(30)) == {}
    corr, _ = run([("open", s, i) for i, s in enumerate(("privatbank", "oschadbank", "mod"))])
    assert corr.boosts(t(2)) == dict.fromkeys(sorted(SERVICES), t(32))


@pytest.mark.parametrize(
    ("states", "ratio", "offline"),
    [
        ({}, 0.5, False),
        ({"a": "unknown"}, 0.5, False),
        ({"a": "down", "b": "up"}, 0.5, True),
        ({"a": "down", "b": "up", "c": "up"}, 0.5, False),
        ({"a": "down", "b": "down", "c": "up"}, 0.5, True),
        ({"a": "down", "b": "unknown"}, 1.0, True),
    ],
)
def test_vantage_offline_helper(states: dict[str, Any], ratio: float, offline: bool) -> None:
    assert vantage_offline(states, ratio) is offline


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ({}, ()),
        ({"timeout": 6, "http_status": 4}, ("timeouts+5xx surge: likely volumetric/DDoS",)),
        ({"content": 5, "timeout": 1}, ("content mismatch: possible defacement",)),
        ({"dns": 3}, ("dns failure: DNS",)),
        ({"refused": 2, "reset": 2}, ("refusals/resets: overload or filtering",)),
    ],
)
def test_hints(signature: dict[str, int], expected: tuple[str, ...]) -> None:
    assert hints(signature) == expected
    if signature:
        assert abs(sum(shares(signature).values()) - 1) < 0.01


FAR = "9999-12-31T23:59:59+14:00"


def test_far_times_never_reach_the_windows() -> None:
    corr = Correlator(CFG, SERVICES, "kyiv-1")
    for when in (datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        msg = Message("dsszzi", str(when.year), when, "text")
        assert corr.announcement(Announcement(msg, Classification("attack", ("mod",))), t(0)) == []
    corr.tick(t(60))
    corr.outage_opened(Outage("mod", t(61)), t(61))
    assert corr.tick(t(120)) is not None


def test_a_snapshot_with_unusable_times_restores_the_rest() -> None:
    corr, _ = run([("open", "mod", 0), ("ann", 1, "attack", ("privatbank",), 1)])
    snap = json.loads(json.dumps(corr.snapshot()))
    snap["heard"]["zsu"] = [[FAR, "dsszzi/9", "attack"]]
    snap["heard"]["monobank"] = [["0001-01-01T00:00:00+14:00", "dsszzi/8", "outage"]]
    snap["boosts"]["zsu"] = FAR
    snap["current"]["oschadbank"] = json.loads(
        json.dumps(snap["current"]["mod"]).replace(t(0).isoformat(), "0001-01-01T00:00:00+00:00")
    )
    resumed = Correlator(CFG, SERVICES, "kyiv-1")
    assert resumed.restore(snap) == 3  # two heard, one track; the boost is dropped silently
    assert resumed.snapshot() == corr.snapshot()
    resumed.tick(t(600))  # every window can be added again


def test_a_malformed_snapshot_raises_and_keeps_memory() -> None:
    corr, _ = run([("open", "mod", 0)])
    before = corr.snapshot()
    with pytest.raises(ValueError, match="unreadable correlator snapshot"):
        corr.restore({"current": {"mod": {"incident": None}}, "heard": {"x": [["no", "k", "a"]]}})
    assert corr.snapshot() == before


def test_campaign_membership_by_start_times_whatever_resolved_since() -> None:
    """Starts at 0, 3 and 21 minutes (window 30m): a campaign, though two resolved by then."""
    events: list[Event] = [("open", "privatbank", 0), ("close", "privatbank", 0, 1)]
    events += [("open", "mod", 3), ("close", "mod", 3, 4), ("tick", 20)]
    corr, changes = run(events)
    assert {i.status for i in final(changes).values()} == {"resolved"}
    corr, changes = run([("open", "zsu", 21)], corr)
    (camp,) = corr.campaigns()
    assert camp.services == ("privatbank", "mod", "zsu")
    assert by_start(final(changes))[iid("privatbank", 0)].campaign == camp.id
    corr, changes = run([("close", "zsu", 21, 22), ("tick", 38)], corr)
    assert [c.kind for c in changes if c.campaign] == ["campaign_closed"]
    assert corr.campaigns() == []


def test_vantage_offline_withdraws_the_observation_of_an_announced_incident() -> None:
    """An attack notice at -10; mod's third failure lands a minute before the canaries'."""
    events: list[Event] = [("ann", 1, "attack", ("mod",), -10), ("open", "mod", 0)]
    corr, changes = run(events)
    assert by_start(final(changes))[iid("mod", -10)].observed
    corr, changes = run([("vantage", True, 1, 0)], corr)
    (inc,) = corr.incidents()
    assert (inc.observed, inc.announced, inc.outages) == (False, True, ())
    assert inc.flags == ("announced_not_observed",)
    assert "incident_withdrawn" not in [c.kind for c in changes]
    (gap,) = corr.gaps()
    assert gap.outages == (f"mod@{t(0).isoformat()}",)
    # the outage lasts past the gap and its quiet period: a real one, observed again
    corr, changes = run([("vantage", False, 20), ("tick", 36)], corr)
    (inc,) = corr.incidents()
    assert inc.observed and inc.flags == ()
