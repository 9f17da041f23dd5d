"""Property: any line of RESULTS.jsonl or MESSAGES is parsed or refused with one clear line."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.timebounds import usable
from monitor.replay import ReplayError, parse_message, parse_result

CHECKS = {("mod", "web"): "http"}
WHERE = "RESULTS.jsonl:12"

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FAR = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59+14:00"]
_fields = st.fixed_dictionaries(
    {},
    optional={
        "ts": st.sampled_from(["2022-02-15T12:00:00Z", "2022-02-15 12:00", "x", "", *_FAR]) | _json,
        "service": st.sampled_from(["mod", "zsu"]) | _json,
        "check": st.sampled_from(["web", "dns"]) | _json,
        "ok": st.booleans() | _json,
        "error": st.sampled_from(["timeout", "dns", "boom", None]) | _json,
        "duration": st.floats() | st.integers() | _json,
        "source": st.sampled_from(["dsszzi", ""]) | _json,
        "id": st.integers() | st.text(max_size=5) | _json,
        "published_at": st.sampled_from(["2022-02-15T12:00:00+02:00", *_FAR]) | _json,
        "text": st.text(max_size=30) | _json,
    },
)
_lines = st.text(max_size=80) | _fields.map(json.dumps) | _json.map(json.dumps)


@settings(max_examples=200, deadline=None)
@given(_lines)
def test_any_results_line(line: str) -> None:
    try:
        obs = parse_result(line, WHERE, CHECKS)
    except ReplayError as exc:
        msg = str(exc)
        assert msg.startswith(WHERE + ": ") and "\n" not in msg and len(msg) < 300
        return
    assert obs is None or (obs.service, obs.check) in CHECKS
    if obs is not None:
        assert usable(obs.ts) and obs.duration >= 0


@settings(max_examples=100, deadline=None)
@given(_lines)
def test_any_messages_line(line: str) -> None:
    try:
        msg = parse_message(line, "m.jsonl:3")
    except ReplayError as exc:
        assert str(exc).startswith("m.jsonl:3: ") and "\n" not in str(exc)
        return
    assert msg is None or (msg.source and usable(msg.published_at))


def test_far_times_are_refused_with_the_field() -> None:
    line = json.dumps({"source": "d", "id": 1, "text": "x", "published_at": _FAR[0]})
    try:
        parse_message(line, "m.jsonl:3")
    except ReplayError as exc:
        assert str(exc) == (
            "m.jsonl:3: 'published_at' is out of range (1970 to 9000): '0001-01-01T00:00:00+14:00'"
        )
    else:
        raise AssertionError("accepted")
