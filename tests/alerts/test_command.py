"""`outwatch alerts test -c FILE RECEIVER` against a real local webhook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.cli import main
from tests.alerts.conftest import Recorder

CONFIG = """
vantage: kyiv-1
alerts:
  route: {{receiver: hook}}
  receivers:
    - {{name: hook, kind: webhook, url: "{url}/hook"}}
"""


async def _run(argv: list[str]) -> int:
    # the command runs its own event loop; keep it off the test's loop (the server lives there)
    return await asyncio.to_thread(main, argv)


async def test_delivered(
    recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(url=recorder.url))
    assert await _run(["alerts", "test", "-c", str(cfg), "hook"]) == 0
    assert "hook (webhook): delivered in" in capsys.readouterr().out
    [hit] = recorder.hits
    assert hit.json()["alerts"][0]["labels"]["alertname"] == "outwatch_test"


async def test_failed(
    recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder.default = (404, {}, "no such hook")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(url=recorder.url))
    assert await _run(["alerts", "test", "-c", str(cfg), "hook"]) == 1
    assert capsys.readouterr().out.strip() == "hook (webhook): failed: HTTP 404: no such hook"


async def test_unknown_receiver_and_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9"))
    assert await _run(["alerts", "test", "-c", str(cfg), "nope"]) == 2
    assert "no receiver named 'nope' (known: hook)" in capsys.readouterr().out
    cfg.write_text("alerts: {route: {receiver: x}}\n")
    assert await _run(["alerts", "test", "-c", str(cfg), "x"]) == 2
    assert "no receiver named 'x'" in capsys.readouterr().err
