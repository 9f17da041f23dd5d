"""`outwatch export results` writes what `outwatch replay` reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import config
from monitor.cli import main
from monitor.commands.export import parse_since
from monitor.core.base import Observation
from monitor.replay import load_results
from monitor.store.db import Store, insert_results

FOUNDING = Path(__file__).parent / "data" / "founding"
T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)


def _config(tmp_path: Path) -> Path:
    text = (FOUNDING / "config.yaml").read_text(encoding="utf-8")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text + f"storage: {{path: {tmp_path / 'o.db'}}}\n", encoding="utf-8")
    return cfg


def test_export_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = _config(tmp_path)
    store = Store(str(tmp_path / "o.db"))
    obs = [
        Observation(
            "mod",
            "web",
            "http",
            T0 + timedelta(minutes=i),
            ok=i % 2 == 0,
            error=None if i % 2 == 0 else "timeout",
            duration=0.5,
        )
        for i in range(10)
    ]
    store.run_sync(lambda db: insert_results(db, obs))
    store.close()
    out = tmp_path / "RESULTS.jsonl"
    since = (T0 + timedelta(minutes=4)).isoformat()
    assert main(["export", "results", "-c", str(cfg_path), "--since", since, "-o", str(out)]) == 0
    assert "exported 6 results" in capsys.readouterr().err
    back = load_results(out, config.load(cfg_path))
    assert back == obs[4:]
    assert main(["replay", "-c", str(cfg_path), "--results", str(out), "--format", "json"]) == 0


def test_export_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = _config(tmp_path)
    assert main(["export", "results", "-c", str(cfg_path)]) == 2
    assert "no database" in capsys.readouterr().err
    assert main(["export", "results", "-c", str(cfg_path), "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err


def test_parse_since() -> None:
    assert parse_since("6h", T0) == T0 - timedelta(hours=6)
    assert parse_since("2022-02-15T10:00:00", T0) == T0 - timedelta(hours=2)
    assert parse_since(None, T0) is None
