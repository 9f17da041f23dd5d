"""Route tree matching and group labels: pure logic, table tests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alerts.base import Alert
from alerts.config import AlertsConfig, RouteConfig, problems
from alerts.inhibit import InhibitRule, inhibited
from alerts.matchers import parse_matchers
from alerts.router import build, group_key, group_labels
from tests.alerts.conftest import T0

TREE = RouteConfig.model_validate(
    {
        "receiver": "soc",
        "group_by": ["service"],
        "group_wait": "1s",
        "routes": [
            {"match": {"severity": "critical"}, "receiver": "oncall", "continue": True},
            {"match_re": {"group": "bank|telecom"}, "receiver": "banks", "group_interval": "1m"},
            {
                "match": {"team": "gov"},
                "receiver": "gov",
                "routes": [{"match": {"service": "mod"}, "receiver": "mod", "group_by": ["..."]}],
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"service": "x"}, ["soc"]),
        ({"severity": "critical"}, ["oncall"]),
        ({"severity": "critical", "group": "bank"}, ["oncall", "banks"]),
        ({"group": "telecom"}, ["banks"]),
        ({"group": "banking"}, ["soc"]),  # regexes are anchored
        ({"team": "gov", "service": "mod"}, ["mod"]),
        ({"team": "gov", "service": "mil"}, ["gov"]),
    ],
)
def test_route_match(labels: dict[str, str], receivers: list[str]) -> None:
    assert [r.receiver for r in build(TREE).match(labels)] == receivers


def test_children_inherit_timings_and_group_by() -> None:
    root = build(TREE)
    banks = root.routes[1]
    assert (banks.group_wait, banks.group_interval, banks.repeat_interval) == (1.0, 60.0, 14400.0)
    assert banks.group_by == ("service",)
    assert root.routes[2].routes[0].group_by is None  # "..."


@pytest.mark.parametrize(
    ("group_by", "campaigns", "labels", "expected"),
    [
        (["service"], True, {"service": "a", "x": "1"}, {"service": "a"}),
        (["service"], True, {"service": "a", "campaign": "c1"}, {"campaign": "c1"}),
        (["service"], False, {"service": "a", "campaign": "c1"}, {"service": "a"}),
        (
            ["alertname", "service"],
            True,
            {"alertname": "d", "service": "a", "campaign": "c"},
            {"alertname": "d", "campaign": "c"},
        ),
        (["..."], True, {"service": "a", "x": "1"}, {"service": "a", "x": "1"}),
        ([], True, {"service": "a"}, {}),
    ],
)
def test_group_labels(
    group_by: list[str], campaigns: bool, labels: dict[str, str], expected: dict[str, str]
) -> None:
    route = build(RouteConfig(receiver="r", group_by=group_by))
    assert group_labels(route, labels, group_campaigns=campaigns) == expected


def test_group_key_is_stable_and_names_the_route() -> None:
    root = build(TREE)
    child = root.routes[0]
    assert group_key(child, {"service": "a"}) == '{}/{severity="critical"}:{service="a"}'


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (
            {
                "route": {"receiver": "nope"},
                "receivers": [{"name": "a", "kind": "webhook", "url": "http://x"}],
            },
            [(("alerts", "route", "receiver"), "no receiver named 'nope' (a)")],
        ),
        (
            {
                "route": {"receiver": "a"},
                "receivers": [{"name": "a", "kind": "webhook", "url": "http://x"}] * 2,
            },
            [(("alerts", "receivers", 1, "name"), "duplicate receiver name 'a'")],
        ),
        (
            {
                "route": {"receiver": "a", "routes": [{"match_re": {"s": "("}}]},
                "receivers": [{"name": "a", "kind": "webhook", "url": "http://x"}],
            },
            [
                (
                    ("alerts", "route", "routes", 0, "match_re", "s"),
                    "invalid regex '(': missing ), unterminated subpattern at position 0",
                )
            ],
        ),
        (
            {"receivers": [{"name": "a", "kind": "webhook", "url": "http://x"}]},
            [(("alerts", "route", "receiver"), "the root route needs a receiver")],
        ),
        (
            {"inhibit_rules": [{"source_match_re": {"a": "["}}]},
            [
                (
                    ("alerts", "inhibit_rules", 0, "source_match_re", "a"),
                    "invalid regex '[': unterminated character set at position 0",
                )
            ],
        ),
    ],
)
def test_problems(cfg: dict[str, object], expected: list[object]) -> None:
    assert problems(AlertsConfig.model_validate(cfg)) == expected


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        AlertsConfig.model_validate({"route": {"reciever": "a"}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="page"', ['severity="page"']),
        ("severity=page", ['severity="page"']),
        ('{a="b",c=~"d|e"}', ['a="b"', 'c=~"d|e"']),
        ('{ foo = "bar", dings != "bums", }', ['foo="bar"', 'dings!="bums"']),
        ('job!~"x.*" , quote="a, \\"b\\""', ['job!~"x.*"', 'quote="a, \\"b\\""']),
        ('path="C:\\temp"', ['path="C:\\\\temp"']),  # a lone backslash is literal
    ],
)
def test_matcher_syntax(text: str, expected: list[str]) -> None:
    assert [str(m) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize(
    ("route", "where", "message"),
    [
        ({"matchers": ["a=b", 'bad"x="y"']}, ("matchers", 1), "bad matcher format"),
        ({"matchers": ['a="b"c"']}, ("matchers", 0), "unescaped double quote"),
        ({"matchers": ['a=~"("']}, ("matchers", 0), "invalid regex"),
    ],
)
def test_matcher_errors_name_the_path(
    route: dict[str, Any], where: tuple[Any, ...], message: str
) -> None:
    cfg = {"route": {"receiver": "a", "routes": [route]}}
    with pytest.raises(ValidationError) as info:
        AlertsConfig.model_validate(cfg)
    [err] = info.value.errors()
    assert err["loc"] == ("route", "routes", 0, *where)
    assert message in err["msg"]


def test_matchers_route_and_inhibit() -> None:
    cfg = AlertsConfig.model_validate(
        {
            "route": {
                "receiver": "soc",
                "routes": [
                    {"matchers": ['{severity="page", team=~"soc|noc"}'], "receiver": "oncall"},
                    {"matchers": ["severity!=info", 'service!~"test-.*"'], "receiver": "ops"},
                    {"match": {"severity": "info"}, "receiver": "info"},
                ],
            },
            "receivers": [
                {"name": n, "kind": "webhook", "url": "http://x"}
                for n in ("soc", "oncall", "ops", "info")
            ],
            "inhibit_rules": [
                {
                    "source_matchers": ['alertname="down"'],
                    "target_matchers": ["alertname=~partial.*"],
                    "equal": ["service"],
                }
            ],
        }
    )
    assert problems(cfg) == []
    root = build(cfg.route)
    got = [
        [r.receiver for r in root.match(ls)]
        for ls in (
            {"severity": "page", "team": "noc"},
            {"severity": "page", "team": "x"},
            {"severity": "page", "service": "test-1"},
            {"severity": "info"},
        )
    ]
    assert got == [["oncall"], ["ops"], ["soc"], ["info"]]
    assert root.routes[0].key == '{}/{severity="page",team=~"soc|noc"}'
    [rule] = [InhibitRule.from_config(r) for r in cfg.inhibit_rules]
    down = Alert({"alertname": "down", "service": "a"}, {}, T0)
    partial = Alert({"alertname": "partial_down", "service": "a"}, {}, T0)
    assert inhibited([down, partial], [rule]) == {partial.fingerprint: down.fingerprint}


def test_time_interval_names_are_checked() -> None:
    cfg = AlertsConfig.model_validate(
        {
            "route": {
                "receiver": "a",
                "mute_time_intervals": ["night"],
                "routes": [{"receiver": "a", "active_time_intervals": ["office", "nope"]}],
            },
            "receivers": [{"name": "a", "kind": "webhook", "url": "http://x"}],
            "time_intervals": [
                {"name": "office", "time_intervals": [{"weekdays": ["monday:friday"]}]}
            ],
        }
    )
    assert problems(cfg) == [
        (
            ("alerts", "route", "mute_time_intervals"),
            "the root route cannot have mute_time_intervals",
        ),
        (
            ("alerts", "route", "routes", 0, "active_time_intervals", 1),
            "no time interval named 'nope' (office)",
        ),
    ]
