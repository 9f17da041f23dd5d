"""Telegram Desktop exports: both text forms, the full-account form, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.timebounds import usable
from monitor.sources.export import Clamped, ExportError, load_export, parse_export

DATA = Path(__file__).parent / "data"


def test_single_chat_with_plain_text() -> None:
    messages = load_export(DATA / "single_plain.json")
    assert [m.id for m in messages] == ["2", "3"]  # the service message is skipped
    first, second = messages
    assert first.source == "id1314564987"
    assert first.published_at == datetime(2022, 2, 15, 14, 10, tzinfo=UTC)
    assert "DDoS" in first.text
    assert first.edited_at is None
    assert second.edited_at == datetime(2022, 2, 15, 17, 30, tzinfo=UTC)


def test_single_chat_with_entities_media_and_service() -> None:
    messages = load_export(DATA / "single_entities.json", source="dsszzi")
    by_id = {m.id: m for m in messages}
    assert set(by_id) == {"10", "11", "13"}
    assert by_id["10"].text == "Увага! Триває DDoS-атака на сайти mil.gov.ua та #ЗСУ"
    assert by_id["11"].text == ""  # media only
    assert by_id["13"].text == "Відео: наслідки атаки"
    # no date_unixtime: the older local `date` field, taken as UTC
    assert by_id["13"].published_at == datetime(2022, 2, 15, 16, 30, tzinfo=UTC)
    assert {m.source for m in messages} == {"dsszzi"}


def test_full_account_takes_channels_only() -> None:
    messages = load_export(DATA / "full_account.json")
    assert [(m.source, m.id) for m in messages] == [
        ("id1314564987", "2"),
        ("id1000000001", "7"),
        ("id1314564987", "3"),
    ]
    assert messages[2].text == "Веб-ресурси Міноборони та ЗСУ відновили роботу."
    assert messages[2].edited_at == datetime(2022, 2, 15, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize("selector", ["Міноборони", "міноборони", "id1000000001", "1000000001"])
def test_full_account_source_selects_a_channel(selector: str) -> None:
    messages = load_export(DATA / "full_account.json", source=selector)
    assert [(m.source, m.id) for m in messages] == [(selector, "7")]


def test_full_account_unknown_source() -> None:
    with pytest.raises(ExportError) as err:
        load_export(DATA / "full_account.json", source="nope")
    assert str(err.value) == (
        f"{DATA / 'full_account.json'}: no channel 'nope' in the export; "
        "channels: Держспецзв'язку, Міноборони"
    )


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "not a Telegram Desktop export (expected a JSON object)"),
        ({"name": "x"}, "not a Telegram Desktop export (no 'messages' and no 'chats.list')"),
        ({"id": 1, "messages": {}}, "messages: expected a list"),
        ({"messages": []}, "'id' of the chat is missing or not a number"),
        (
            {"id": 1, "messages": [{"id": "a", "date": "2022-01-01"}]},
            "messages[0]: 'id' is missing or not an integer",
        ),
        ({"id": 1, "messages": [{"id": 1}]}, "messages[0]: 'date_unixtime' (or 'date') is missing"),
        (
            {"id": 1, "messages": [{"id": 1, "date_unixtime": "x"}]},
            "messages[0]: 'date_unixtime' is not a number of seconds: 'x'",
        ),
        (
            {
                "id": 1,
                "messages": [
                    {"id": 1, "date": "2022-01-01T00:00:00"},
                    {"id": 2, "date": "yesterday"},
                ],
            },
            "messages[1]: 'date' is not an ISO 8601 date: 'yesterday'",
        ),
        (
            {"id": 1, "messages": [{"id": 1, "date": "2022-01-01", "text": [1]}]},
            "messages[0]: 'text' holds a part that is neither a string nor {'text': ...}",
        ),
        (
            {"chats": {"list": [{"type": "public_channel", "id": 5, "messages": [{"id": True}]}]}},
            "chats.list[0].messages[0]: 'id' is missing or not an integer",
        ),
    ],
)
def test_bad_exports_name_the_problem(tmp_path: Path, data: Any, error: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ExportError) as err:
        load_export(path)
    assert str(err.value) == f"{path}: {error}"


def test_unreadable_and_not_json(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"missing\.json: cannot read: No such file"):
        load_export(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ExportError, match=r"bad\.json: not valid JSON: .* at line 1"):
        load_export(bad)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"x": "\xff"}')
    with pytest.raises(ExportError, match=r"latin\.json: not"):
        load_export(latin)


def test_hostile_texts_are_kept_safely(tmp_path: Path) -> None:
    texts = [
        "x" * 1_000_000,
        "\x00\x01ctl\x1b[2J",
        "\u202e\u200fRTL",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "\ud800",
    ]
    data = {
        "id": 1,
        "messages": [
            {"id": i, "date_unixtime": "1644934200", "text": t} for i, t in enumerate(texts)
        ],
    }
    messages = load_export(_write(tmp_path, data))
    assert len(messages) == len(texts)
    assert len(messages[0].text) == 64 * 1024
    assert messages[1].text == "ctl[2J"
    assert messages[2].text == "\u202e\u200fRTL"
    assert messages[3].text == "<script>alert(1)</script>"
    assert messages[5].text == "?"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers() | st.text(max_size=5) | st.booleans() | st.none(),
        "type": st.sampled_from(["message", "service", "other"]) | JSON,
        "date": st.text(max_size=25) | st.just("2022-02-15T16:10:00") | JSON,
        "date_unixtime": st.integers().map(str) | st.text(max_size=12) | JSON,
        "edited_unixtime": st.integers(-(10**12), 10**12).map(str) | JSON,
        "text": st.text()
        | st.lists(st.text() | st.fixed_dictionaries({"type": st.text(), "text": st.text()}) | JSON)
        | JSON,
    },
)
EXPORT = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"id": JSON | st.integers(), "messages": st.lists(MESSAGE, max_size=5) | JSON}
    ),
    st.fixed_dictionaries(
        {
            "chats": st.fixed_dictionaries(
                {
                    "list": st.lists(
                        st.fixed_dictionaries(
                            {
                                "type": st.sampled_from(["public_channel", "private_group"]),
                                "id": st.integers() | JSON,
                                "name": st.text(max_size=8),
                                "messages": st.lists(MESSAGE, max_size=3),
                            }
                        ),
                        max_size=3,
                    )
                    | JSON
                }
            )
        }
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=EXPORT, source=st.none() | st.text(max_size=8))
def test_any_export_gives_messages_or_a_clear_error(data: Any, source: str | None) -> None:
    from monitor.sources.export import _Bad

    try:
        messages = parse_export(data, source)
    except _Bad as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for m in messages:
        assert isinstance(m.text, str) and usable(m.published_at)


def test_links_to_t_me_only_for_a_channel_username(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(
        '{"name": "c", "type": "public_channel", "id": 7, "messages": '
        '[{"id": 5, "type": "message", "date_unixtime": "1644926400", "text": "hi"}]}'
    )
    assert load_export(path, "dsszzi")[0].url == "https://t.me/dsszzi/5"
    assert load_export(path)[0].url is None  # id7: no public link


def test_dates_out_of_range_become_the_import_time(tmp_path: Path) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    raws: list[dict[str, Any]] = [
        {"id": 1, "date": "0001-01-01T00:00:00"},
        {"id": 2, "date": "9999-12-31T23:59:59+14:00"},
        {"id": 3, "date_unixtime": "99999999999999999999"},
        {"id": 4, "date_unixtime": "-62135596800"},
        {"id": 5, "date_unixtime": "1700000000", "edited_unixtime": "253402300799"},
        {"id": 6, "date": "2022-02-15T16:00:00"},
    ]
    clamped = Clamped(now)
    messages = load_export(_write(tmp_path, {"id": 7, "messages": raws}), clamped=clamped)
    when = {m.id: m.published_at for m in messages}
    assert [when[i] for i in "1234"] == [now] * 4
    assert when["5"] == datetime.fromtimestamp(1700000000, UTC)
    assert when["6"] == datetime(2022, 2, 15, 16, tzinfo=UTC)
    assert [m.edited_at for m in messages if m.id == "5"] == [now]
    assert clamped.originals == [
        "messages[0].date: '0001-01-01T00:00:00'",
        "messages[1].date: '9999-12-31T23:59:59+14:00'",
        "messages[2].date_unixtime: '99999999999999999999'",
        "messages[3].date_unixtime: '-62135596800'",
        "messages[4].edited_unixtime: '253402300799'",
    ]
