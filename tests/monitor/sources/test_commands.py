"""`outwatch import telegram` and `outwatch telegram login`, through the real CLI."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from monitor import cli
from monitor.commands.telegram import secure, session_files
from monitor.store.channels import ChannelStore, Pin
from monitor.store.db import Store

DATA = Path(__file__).parent / "data"
SERVICES = """
services:
  - name: privatbank
    aliases: [ПриватБанк, Приват24]
  - name: oschadbank
    aliases: [Ощадбанк]
  - name: mod
    aliases: [Міноборони, Міністерство оборони]
  - name: zsu
    aliases: [ЗСУ, Збройні сили]
"""


def write_config(tmp_path: Path, telegram: bool = True) -> Path:
    text = f"storage: {{path: {tmp_path / 'ow.db'}}}\n{SERVICES}"
    if telegram:
        text += (
            "sources:\n  telegram: {api_id: 1, api_hash: abc, "
            f"session: {tmp_path / 'tg' / 'ow.session'}, channels: [dsszzi]}}\n"
        )
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rows(tmp_path: Path) -> list[dict[str, object]]:
    store = Store(str(tmp_path / "ow.db"))
    try:
        return store.run_sync(
            lambda db: list(db.query("SELECT * FROM announcements ORDER BY source, id"))
        )
    finally:
        store.close()


def test_import_twice_adds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    export = DATA / "single_plain.json"
    assert cli.main(["import", "telegram", "-c", str(cfg), str(export)]) == 0
    assert capsys.readouterr().out == f"{export}: 2 messages: 2 new, 0 edited, 0 unchanged\n"
    assert cli.main(["import", "telegram", "-c", str(cfg), str(export)]) == 0
    assert capsys.readouterr().out == f"{export}: 2 messages: 0 new, 0 edited, 2 unchanged\n"
    stored = rows(tmp_path)
    assert [(r["source"], r["id"], r["kind"]) for r in stored] == [
        ("id1314564987", "2", "attack"),
        ("id1314564987", "3", "restored"),
    ]
    assert '"privatbank"' in str(stored[0]["services"])


def test_import_files_a_pinned_channel_under_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    store = Store(str(tmp_path / "ow.db"))
    ann = ChannelStore(store)

    async def pin() -> None:
        await ann.ensure_schema()
        await ann.save_pin(Pin("dsszzi", 1314564987, 5, "dsszzi", "Держспецзв'язку"))

    asyncio.run(pin())
    store.close()
    full = DATA / "full_account.json"
    assert cli.main(["import", "telegram", "-c", str(cfg), str(full), "--source", "@dsszzi"]) == 0
    assert "2 new" in capsys.readouterr().out
    # the same channel from a single-chat export, with no --source: found through the pin
    assert cli.main(["import", "telegram", "-c", str(cfg), str(DATA / "single_plain.json")]) == 0
    assert "0 new, 0 edited, 2 unchanged" in capsys.readouterr().out
    stored = rows(tmp_path)
    assert {(r["source"], r["id"]) for r in stored} == {("dsszzi", "2"), ("dsszzi", "3")}
    assert stored[0]["url"] == "https://t.me/dsszzi/2"


def test_import_selects_by_title(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    full = DATA / "full_account.json"
    assert (
        cli.main(["import", "telegram", "-c", str(cfg), str(full), "--source", "Міноборони"]) == 0
    )
    assert "1 messages: 1 new" in capsys.readouterr().out
    assert [(r["source"], r["kind"]) for r in rows(tmp_path)] == [("Міноборони", "attack")]


def test_import_bad_export_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    bad = tmp_path / "result.json"
    bad.write_text('{"id": 1, "messages": [{"id": 1}]}', encoding="utf-8")
    assert cli.main(["import", "telegram", "-c", str(cfg), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"{bad}: messages[0]: 'date_unixtime' (or 'date') is missing\n"


def test_login_without_telegram_config_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, telegram=False)
    assert cli.main(["telegram", "login", "-c", str(cfg)]) == 2
    assert capsys.readouterr().err == (
        f"{cfg}: sources.telegram is not configured (set api_id, api_hash and channels first)\n"
    )


def test_login_needs_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal the first prompt fails cleanly; no network is touched before it."""
    cfg = write_config(tmp_path)

    def no_input(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", no_input)
    # Telegram is out of reach from tests: the client neither connects nor is authorised
    monkeypatch.setattr("telethon.TelegramClient.connect", lambda self: _nothing())
    monkeypatch.setattr("telethon.TelegramClient.is_user_authorized", lambda self: _no())
    monkeypatch.setattr("telethon.TelegramClient.get_me", lambda self, **kw: _nothing())
    assert cli.main(["telegram", "login", "-c", str(cfg)]) == 2
    assert "interactive terminal" in capsys.readouterr().err
    assert (tmp_path / "tg").is_dir()
    session = session_files(str(tmp_path / "tg" / "ow.session"))[0]
    assert stat.S_IMODE(session.stat().st_mode) == 0o600


async def _nothing() -> None:
    return None


async def _no() -> bool:
    return False


def test_secure_makes_session_files_private(tmp_path: Path) -> None:
    session = tmp_path / "ow"
    files = session_files(str(session))
    assert [p.name for p in files] == ["ow.session", "ow.session-journal"]
    files[0].write_text("x")
    os.chmod(files[0], 0o644)
    secure(str(session))
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_control_characters_in_an_export_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    export = tmp_path / "result.json"
    chat = {
        "type": "public_channel",
        "id": 5,
        "name": "Evil\x1b]0;owned\x07\x1b[2J\u202e",
        "messages": [],
    }
    export.write_text(json.dumps({"chats": {"list": [chat]}}), encoding="utf-8")
    assert cli.main(["import", "telegram", "-c", str(cfg), str(export), "--source", "x"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"{export}: no channel 'x' in the export; channels: Evil\\x1b]0;owned\\x07\\x1b[2J\\u202e\n"
    )


def test_import_reports_dates_set_to_the_import_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    export = tmp_path / "result.json"
    messages = [
        {"id": 1, "date": "9999-12-31T23:59:59+14:00", "text": "DDoS ПриватБанк"},
        {"id": 2, "date_unixtime": "1645000000", "text": "ok"},
    ]
    export.write_text(json.dumps({"id": 5, "messages": messages}), encoding="utf-8")
    assert cli.main(["import", "telegram", "-c", str(cfg), str(export)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{export}: 2 messages: 2 new, 0 edited, 0 unchanged\n"
    assert captured.err == (
        f"{export}: 1 dates out of range set to the import time: "
        "messages[0].date: '9999-12-31T23:59:59+14:00'\n"
    )
    assert all(str(r["published_at"]) < "9000" for r in rows(tmp_path))
