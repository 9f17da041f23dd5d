"""Any config text gives a Config or a ConfigError of one-line problems, never another exception."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import config

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["30s", "5m", "14d", "-1s", "http", "dns", "tls", "tcp", "${NOPE}", "x_file"]),
)
keys = st.sampled_from(
    [
        "vantage",
        "services",
        "name",
        "checks",
        "kind",
        "url",
        "target",
        "interval",
        "timeout",
        "defaults",
        "failures_before_down",
        "expect",
        "status",
        "web",
        "listen",
        "storage",
        "alerts",
        "route",
        "receivers",
        "sources",
        "telegram",
        "api_hash_file",
        "id",
        "group",
        "aliases",
        "bogus",
    ]
)
trees = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=5),
    max_leaves=25,
)


def _check(text: str) -> None:
    try:
        config.parse(text, "fuzz.yaml")
    except config.ConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert line.startswith("fuzz.yaml") and "\n" not in line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_structured_input(tree: object) -> None:
    _check(yaml.safe_dump(tree, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _check(text)
