"""Silences, maintenance windows, inhibition and the dedup rule: pure logic, table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.base import Alert
from alerts.config import AlertsConfig, MaintenanceConfig
from alerts.groups import LogEntry, needs_update
from alerts.inhibit import InhibitRule, inhibited
from alerts.matchers import Matcher
from alerts.silences import MaintenanceWindow, Silence, from_config, muted_by
from alerts.timeintervals import TimeIntervalSpec

NOW = datetime(2022, 2, 15, 10, 0, tzinfo=UTC)  # a Tuesday; 12:00 in Kyiv


@pytest.mark.parametrize(
    ("matcher", "labels", "hit"),
    [
        (Matcher("service", "privatbank"), {"service": "privatbank"}, True),
        (Matcher("service", "privat"), {"service": "privatbank"}, False),
        (Matcher("service", "privat.*", is_regex=True), {"service": "privatbank"}, True),
        (Matcher("service", "bank", is_regex=True), {"service": "privatbank"}, False),  # anchored
        (Matcher("service", "mod", is_equal=False), {"service": "privatbank"}, True),
        (Matcher("service", "mod|zsu", is_regex=True, is_equal=False), {"service": "zsu"}, False),
        (Matcher("team", ""), {"service": "x"}, True),  # missing label is ""
    ],
)
def test_matcher(matcher: Matcher, labels: dict[str, str], hit: bool) -> None:
    assert matcher.matches(labels) is hit


S = Silence(
    "s1",
    (Matcher("service", "privatbank"),),
    starts_at=NOW,
    ends_at=NOW + timedelta(hours=1),
)


@pytest.mark.parametrize(
    ("at", "labels", "state", "mutes"),
    [
        (NOW - timedelta(seconds=1), {"service": "privatbank"}, "pending", False),
        (NOW, {"service": "privatbank"}, "active", True),
        (NOW + timedelta(minutes=59), {"service": "oschadbank"}, "active", False),
        (NOW + timedelta(hours=1), {"service": "privatbank"}, "expired", False),
    ],
)
def test_silence(at: datetime, labels: dict[str, str], state: str, mutes: bool) -> None:
    assert S.state(at) == state
    assert S.mutes(labels, at) is mutes


def _window(**kw: object) -> MaintenanceWindow:
    cfg = MaintenanceConfig.model_validate({"match": {"service": "mod"}, **kw})
    return MaintenanceWindow.from_config(0, cfg)


KYIV_NIGHT = {"weekdays": ["sun"], "start": "23:00", "end": "01:30", "time_zone": "Europe/Kyiv"}


@pytest.mark.parametrize(
    ("spec", "at", "active"),
    [
        (
            {"weekdays": ["tue"], "start": "11:00", "end": "13:00", "time_zone": "Europe/Kyiv"},
            NOW,
            True,
        ),
        ({"weekdays": ["tue"], "start": "11:00", "end": "13:00", "time_zone": "UTC"}, NOW, False),
        (
            {"weekdays": ["wed"], "start": "11:00", "end": "13:00", "time_zone": "Europe/Kyiv"},
            NOW,
            False,
        ),
        ({"start": "12:00", "end": "12:01", "time_zone": "Europe/Kyiv"}, NOW, True),  # every day
        ({"start": 720, "end": 721, "time_zone": "Europe/Kyiv"}, NOW, True),  # YAML's 12:00
        # Sunday 23:00 Kyiv to Monday 01:30 Kyiv (UTC+2 in February)
        (KYIV_NIGHT, datetime(2022, 2, 13, 21, 30, tzinfo=UTC), True),  # Sun 23:30
        (KYIV_NIGHT, datetime(2022, 2, 13, 23, 29, tzinfo=UTC), True),  # Mon 01:29
        (KYIV_NIGHT, datetime(2022, 2, 13, 23, 30, tzinfo=UTC), False),  # Mon 01:30
        (KYIV_NIGHT, datetime(2022, 2, 12, 23, 0, tzinfo=UTC), False),  # Sun 01:00 (Sat night)
        # summer time: 23:00 Kyiv is 20:00 UTC
        (KYIV_NIGHT, datetime(2022, 7, 10, 20, 0, tzinfo=UTC), True),
    ],
)
def test_maintenance_window(spec: dict[str, object], at: datetime, active: bool) -> None:
    w = _window(**spec)
    assert w.active(at) is active
    assert w.mutes({"service": "mod"}, at) is active
    assert w.mutes({"service": "zsu"}, at) is False


def test_config_silences_and_windows() -> None:
    cfg = AlertsConfig.model_validate(
        {
            "silences": [{"match": {"service": "mod"}, "comment": "known"}],
            "maintenance": [
                {
                    "name": "nightly",
                    "start": "00:00",
                    "end": "23:59",
                    "match_re": {"service": "z.*"},
                }
            ],
        }
    )
    static, windows = from_config(cfg)
    assert muted_by({"service": "mod"}, NOW, static, windows) == ["config:0"]
    assert muted_by({"service": "zsu"}, NOW, static, windows) == ["maintenance:nightly"]
    assert muted_by({"service": "privatbank"}, NOW, static, windows) == []


def _a(**labels: str) -> Alert:
    return Alert(labels=labels, annotations={}, starts_at=NOW)


OFFLINE = _a(alertname="vantage_offline", vantage="kyiv-1")
BANK = _a(alertname="service_down", service="privatbank", vantage="kyiv-1")
BANK_LVIV = _a(alertname="service_down", service="privatbank", vantage="lviv-1")
DEFAULT_RULES = [InhibitRule.from_config(r) for r in AlertsConfig().all_inhibit_rules()]


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ([OFFLINE, BANK], {BANK.fingerprint: OFFLINE.fingerprint}),
        ([OFFLINE, BANK_LVIV], {}),  # another vantage is not inhibited
        ([BANK], {}),
        (
            [Alert(OFFLINE.labels, {}, NOW, ends_at=NOW), BANK],
            {},
        ),  # resolved sources do not inhibit
    ],
)
def test_vantage_offline_inhibits_service_alerts(
    alerts: list[Alert], expected: dict[str, str]
) -> None:
    assert inhibited(alerts, DEFAULT_RULES) == expected


def test_an_alert_does_not_inhibit_itself() -> None:
    rule = InhibitRule((Matcher("severity", "critical"),), (Matcher("severity", "critical"),), ())
    assert inhibited([_a(severity="critical")], [rule]) == {}


E = LogEntry(frozenset({"a"}), frozenset(), NOW)


@pytest.mark.parametrize(
    ("entry", "firing", "resolved", "send_resolved", "at", "expected"),
    [
        (None, {"a"}, set(), True, NOW, True),  # first time
        (None, set(), {"a"}, True, NOW, False),  # only resolved, never told
        (E, {"a"}, set(), True, NOW + timedelta(minutes=5), False),  # nothing new
        (E, {"a", "b"}, set(), True, NOW, True),  # a new firing alert
        (E, {"a"}, {"b"}, True, NOW, True),  # news of resolution
        (E, {"a"}, {"b"}, False, NOW, False),  # ... the receiver does not want it
        (E, set(), {"a"}, False, NOW, True),  # all resolved: logged even without send_resolved
        (E, {"a"}, set(), True, NOW + timedelta(hours=4), True),  # repeat due
    ],
)
def test_needs_update(
    entry: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    at: datetime,
    expected: bool,
) -> None:
    got = needs_update(
        entry,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat=4 * 3600,
        now=at,
    )
    assert got is expected


def _interval(**spec: object) -> TimeIntervalSpec:
    return TimeIntervalSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "at", "inside"),
    [
        ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, NOW, True),
        ({"times": [{"start_time": 9 * 60, "end_time": 24 * 60}]}, NOW, True),  # YAML's 24:00
        ({"times": [{"start_time": "10:01", "end_time": "24:00"}]}, NOW, False),
        ({"times": [{"start_time": "09:00", "end_time": "10:00"}]}, NOW, False),  # end excluded
        ({"weekdays": ["monday:friday"]}, NOW, True),
        ({"weekdays": ["Saturday", "sunday"]}, NOW, False),
        ({"days_of_month": ["-14:-1"]}, NOW, True),  # Feb 2022 has 28 days: 15..28
        ({"days_of_month": ["1:14"]}, NOW, False),
        ({"months": ["january:march"], "years": ["2022"]}, NOW, True),
        ({"months": ["3"]}, NOW, False),
        ({"years": ["2020:2021"]}, NOW, False),
        # 12:00 in Kyiv, 10:00 UTC
        (
            {"times": [{"start_time": "11:30", "end_time": "12:30"}], "location": "Europe/Kyiv"},
            NOW,
            True,
        ),
        ({"times": [{"start_time": "11:30", "end_time": "12:30"}]}, NOW, False),
    ],
)
def test_time_interval(spec: dict[str, object], at: datetime, inside: bool) -> None:
    assert _interval(**spec).contains(at) is inside


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"weekdays": ["friday:monday"]}, "start day cannot be before end day"),
        ({"weekdays": ["funday"]}, "funday is not a valid weekday"),
        ({"days_of_month": ["0"]}, "0 is not a valid day of the month"),
        ({"days_of_month": ["-3:5"]}, "end day must be negative"),
        ({"months": ["june:may"]}, "end month may is before start month june"),
        ({"times": [{"start_time": "10:00", "end_time": "09:00"}]}, "start time cannot be equal"),
        ({"times": [{"start_time": "25:00", "end_time": "26:00"}]}, "invalid format"),
        ({"location": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_time_interval_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _interval(**spec)
