"""State machine tables: thresholds, flapping, service status, outages, restore."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.base import Observation
from monitor.core.state import (
    CheckRule,
    OutageClosed,
    OutageOpened,
    ServiceChanged,
    ServiceRule,
    StateMachine,
)

T0 = datetime(2022, 2, 15, 13, 0, tzinfo=UTC)


def machine(fails: int = 3, oks: int = 2) -> StateMachine:
    return StateMachine(
        [
            ServiceRule(
                "privatbank",
                (
                    CheckRule("web", True, fails, oks),
                    CheckRule("app", True, fails, oks),
                    CheckRule("dns", False, fails, oks),
                ),
            )
        ]
    )


def feed(m: StateMachine, pattern: str, check: str = "web", error: str = "timeout") -> list[object]:
    """Feed one result per character: '+' ok, '-' failed; 30 s apart."""
    events: list[object] = []
    for i, ch in enumerate(pattern):
        obs = Observation(
            "privatbank",
            check,
            "http",
            T0 + timedelta(seconds=30 * i),
            ch == "+",
            None if ch == "+" else error,
        )
        events.extend(m.observe(obs))
    return events


@pytest.mark.parametrize(
    ("pattern", "state"),
    [
        ("", "unknown"),
        ("+", "up"),
        ("-", "unknown"),
        ("--", "unknown"),
        ("---", "down"),
        ("+--", "up"),
        ("+---", "down"),
        ("+---+", "down"),
        ("+---++", "up"),
        ("+-+-+-+-+-", "up"),  # flapping below the threshold never goes down
        ("---+-+-", "down"),
    ],
)
def test_check_state_thresholds(pattern: str, state: str) -> None:
    m = machine()
    feed(m, pattern)
    assert m.check_state("privatbank", "web") == state


def test_flapping_opens_no_outage() -> None:
    m = machine()
    events = feed(m, "+-+--+-+--+" * 3)
    assert not [e for e in events if isinstance(e, OutageOpened)]


@pytest.mark.parametrize(
    ("web", "app", "dns", "status"),
    [
        ("+", "+", "+", "up"),
        ("---", "+", "+", "degraded"),
        ("+", "+", "---", "degraded"),  # a non-critical check down degrades, never downs
        ("---", "---", "+", "down"),
        ("---", "---", "---", "down"),
        ("", "", "", "unknown"),
        ("+", "", "", "up"),
    ],
)
def test_service_status(web: str, app: str, dns: str, status: str) -> None:
    m = machine()
    feed(m, web, "web")
    feed(m, app, "app")
    feed(m, dns, "dns")
    assert m.status("privatbank") == status


def test_outage_opens_at_first_failure_and_closes_with_signature() -> None:
    m = machine()
    feed(m, "++")
    opened = [
        e
        for e in feed(m, "---", "web", "timeout") + feed(m, "---", "app", "http_status")
        if isinstance(e, OutageOpened)
    ]
    assert len(opened) == 1
    outage = m.open_outage("privatbank")
    assert outage is not None and outage.worst == "down"
    assert (
        outage.started_at == T0
    )  # first failure of the streak, not when the threshold was crossed
    assert dict(outage.signature) == {"timeout": 3, "http_status": 3}
    closed = [e for e in feed(m, "++", "web") + feed(m, "++", "app") if isinstance(e, OutageClosed)]
    assert len(closed) == 1 and closed[0].outage.ended_at is not None
    assert m.open_outage("privatbank") is None


def test_snapshot_restore_keeps_open_outage_and_counters() -> None:
    m = machine()
    feed(m, "---", "web")
    feed(m, "---", "app")
    feed(m, "-", "web")
    snap = m.snapshot()
    again = machine()
    again.restore(snap)
    assert again.status("privatbank") == "down"
    assert again.open_outage("privatbank") == m.open_outage("privatbank")
    # no second outage on resume: further failures extend the same one
    assert not [e for e in feed(again, "--", "web") if isinstance(e, OutageOpened)]


def test_reconfigure_keeps_unchanged_checks() -> None:
    m = machine()
    feed(m, "---", "web")
    m.reconfigure([ServiceRule("privatbank", (CheckRule("web"), CheckRule("new")))])
    assert m.check_state("privatbank", "web") == "down"
    assert m.check_state("privatbank", "new") == "unknown"
    assert m.check_state("privatbank", "app") == "unknown"


def test_unknown_service_or_check_is_ignored() -> None:
    m = machine()
    assert m.observe(Observation("nope", "web", "http", T0, False, "timeout")) == []
    assert m.observe(Observation("privatbank", "nope", "http", T0, False, "timeout")) == []


def test_outage_starts_at_its_own_streak_not_an_earlier_blip() -> None:
    m = machine()
    feed(m, "+")
    feed(m, "+" * 3, "app")
    feed(m, "+" * 3, "dns")
    # t0+30s: one failure below the threshold, then good again
    events = feed(m, "+-+")
    assert m.status("privatbank") == "up" and not [e for e in events if isinstance(e, OutageOpened)]
    # a later, real outage of both critical checks starts at its own first failure
    later = T0 + timedelta(minutes=10)
    for i in range(3):
        for check in ("web", "app"):
            m.observe(
                Observation(
                    "privatbank", check, "http", later + timedelta(seconds=30 * i), False, "timeout"
                )
            )
    outage = m.open_outage("privatbank")
    assert outage is not None and outage.started_at == later


def _obs(check: str, at: datetime, ok: bool, error: str | None = None, mono: float | None = None):
    return Observation("privatbank", check, "http", at, ok, None if ok else error, mono=mono)


def test_signature_counts_only_the_streak_that_became_the_outage() -> None:
    """Twelve isolated timeouts over 12 hours, then three refusals: the outage is refusals."""
    m = StateMachine([ServiceRule("privatbank", (CheckRule("web", True, 3, 2),))])
    at = T0
    for _ in range(12):
        m.observe(_obs("web", at, False, "timeout"))
        for k in range(1, 4):
            m.observe(_obs("web", at + timedelta(minutes=k), True))
        at += timedelta(hours=1)
    opened = []
    for k in range(3):
        opened += m.observe(_obs("web", at + timedelta(seconds=30 * k), False, "refused"))
    outage = next(e.outage for e in opened if isinstance(e, OutageOpened))
    assert dict(outage.signature) == {"refused": 3}
    m.observe(_obs("web", at + timedelta(minutes=5), False, "timeout"))
    assert dict(m.open_outages()["privatbank"].signature) == {"refused": 3, "timeout": 1}


def test_clock_stepped_back_never_gives_a_negative_outage() -> None:
    m = StateMachine([ServiceRule("privatbank", (CheckRule("web", True, 3, 2),))])
    for k in range(3):
        m.observe(_obs("web", T0 + timedelta(seconds=30 * k), False, "timeout", mono=30.0 * k))
    # the wall clock steps an hour back; 5 minutes pass on the monotonic clock
    back = T0 - timedelta(hours=1)
    events = m.observe(_obs("web", back, True, mono=270.0))
    events += m.observe(_obs("web", back + timedelta(seconds=30), True, mono=300.0))
    closed = next(e.outage for e in events if isinstance(e, OutageClosed))
    assert closed.ended_at == T0 + timedelta(seconds=300)
    # without monotonic readings (replay of recorded rows) an end is never before the start
    m2 = StateMachine([ServiceRule("privatbank", (CheckRule("web", True, 3, 2),))])
    for k in range(3):
        m2.observe(_obs("web", T0 + timedelta(seconds=30 * k), False, "timeout"))
    events = m2.observe(_obs("web", back, True)) + m2.observe(_obs("web", back, True))
    closed = next(e.outage for e in events if isinstance(e, OutageClosed))
    assert closed.ended_at is not None and closed.ended_at >= closed.started_at


def test_a_service_of_only_non_critical_checks_never_goes_down() -> None:
    m = StateMachine(
        [ServiceRule("privatbank", (CheckRule("web", False, 3, 2), CheckRule("dns", False, 3, 2)))]
    )
    for check in ("web", "dns"):
        for k in range(3):
            m.observe(_obs(check, T0 + timedelta(seconds=30 * k), False, "timeout"))
    assert m.status("privatbank") == "degraded"
    assert m.open_outages()["privatbank"].worst == "degraded"


def test_snapshot_json_is_the_snapshot_encoded_after_results_reloads_and_restores() -> None:
    """The incremental text is json.dumps(snapshot()) at every step, however state moved."""
    m = machine()
    steps = [
        ("web", "---"),
        ("app", "+"),
        ("dns", "-"),
        ("app", "---"),
        ("web", "++"),
        ("dns", "+++"),
    ]
    for check, pattern in steps:
        feed(m, pattern, check, "refused")
        assert m.snapshot_json() == json.dumps(m.snapshot())
    m.reconfigure([ServiceRule("privatbank", (CheckRule("web"), CheckRule("new")))])
    assert m.snapshot_json() == json.dumps(m.snapshot())
    again = machine()
    again.snapshot_json()  # cached text of the tracks the restore replaces
    again.restore(json.loads(m.snapshot_json()))
    assert again.snapshot_json() == json.dumps(again.snapshot())
    feed(again, "-", "app")
    assert again.snapshot_json() == json.dumps(again.snapshot())
    # names are config text: quotes, backslashes and Cyrillic are escaped as json.dumps does
    odd = StateMachine([ServiceRule('Дія "gov"', (CheckRule("веб\\1"),))])
    odd.observe(Observation('Дія "gov"', "веб\\1", "http", T0, False, "timeout"))
    assert odd.snapshot_json() == json.dumps(odd.snapshot())


def test_a_reload_that_changes_criticality_moves_the_status_on_the_next_result() -> None:
    """The status is recounted on a reload, not only when a check's state moves."""
    m = machine()
    feed(m, "+", "app")
    feed(m, "+", "dns")
    feed(m, "---", "web")
    feed(m, "---", "app")
    assert m.status("privatbank") == "down"
    # dns (up) becomes critical: not every critical check is down any more
    rules = (CheckRule("web"), CheckRule("app"), CheckRule("dns"))
    m.reconfigure([ServiceRule("privatbank", rules)])
    events = feed(m, "+", "dns")  # no check moves; the status does
    assert [e.new for e in events if isinstance(e, ServiceChanged)] == ["degraded"]
    m.reconfigure([ServiceRule("privatbank", (*rules[:2], CheckRule("dns", False)))])
    events = feed(m, "+", "dns")
    assert [e.new for e in events if isinstance(e, ServiceChanged)] == ["down"]


def test_the_open_outage_drops_a_removed_check_at_the_next_result() -> None:
    m = machine()
    feed(m, "+", "dns")
    feed(m, "---", "web")
    feed(m, "---", "app")
    outage = m.open_outage("privatbank")
    assert outage is not None and outage.failing_checks == ("web", "app")
    m.reconfigure([ServiceRule("privatbank", (CheckRule("web"), CheckRule("dns", False)))])
    feed(m, "+", "dns")  # an ok result moving nothing still brings the outage up to date
    outage = m.open_outage("privatbank")
    assert outage is not None and outage.failing_checks == ("web",)
