"""Replay over recorded data: the founding case, determinism, and input errors."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from monitor import config
from monitor.cli import main
from monitor.core.classify.classifier import Classifier
from monitor.replay import ReplayError, load_messages, load_results, replay, report_dict

DATA = Path(__file__).parent / "data"
FOUNDING = DATA / "founding"


def founding() -> dict[str, Any]:
    cfg = config.load(FOUNDING / "config.yaml")
    results = load_results(FOUNDING / "results.jsonl", cfg)
    messages = load_messages(FOUNDING / "messages.jsonl")
    return report_dict(
        replay(cfg, results, messages, Classifier.from_services(cfg.services).classify)
    )


FOUNDING_EXPECTED: dict[str, Any] = {
    "incidents": [
        {
            "id": "INC-20220215-001",
            "service": "privatbank",
            "observed": True,
            "announced": True,
            "status": "resolved",
            "started_at": "2022-02-15T12:00:00Z",
            "ended_at": "2022-02-15T14:31:00Z",
            "announcements": ["dsszzi/101", "dsszzi/104"],
            "flags": [],
        },
        {
            "id": "INC-20220215-002",
            "service": "oschadbank",
            "observed": True,
            "announced": True,
            "status": "resolved",
            "started_at": "2022-02-15T12:07:00Z",
            "ended_at": "2022-02-15T16:01:00Z",
            "announcements": ["dsszzi/101", "dsszzi/104"],
            "flags": ["restored_claim_while_down"],
        },
        {
            "id": "INC-20220215-003",
            "service": "mod",
            "observed": True,
            "announced": True,
            "status": "resolved",
            "started_at": "2022-02-15T12:15:00Z",
            "ended_at": "2022-02-15T15:01:00Z",
            "announcements": ["dsszzi/102"],
            "flags": [],
        },
        {
            "id": "INC-20220215-004",
            "service": "zsu",
            "observed": True,
            "announced": True,
            "status": "resolved",
            "started_at": "2022-02-15T12:25:00Z",
            "ended_at": "2022-02-15T15:11:00Z",
            "announcements": ["dsszzi/102"],
            "flags": [],
        },
    ],
    "campaigns": [
        {
            "id": "CMP-20220215-01",
            "services": ["privatbank", "oschadbank", "mod", "zsu"],
            "started_at": "2022-02-15T12:00:00Z",
        }
    ],
}


def test_founding_case() -> None:
    assert founding() == FOUNDING_EXPECTED


def test_replay_command_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["replay", "-c", str(FOUNDING / "config.yaml"), "--results"]
    args += [str(FOUNDING / "results.jsonl"), "--messages", str(FOUNDING / "messages.jsonl")]
    outs = []
    for _ in range(2):
        assert main([*args, "--format", "json"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert json.loads(outs[0]) == FOUNDING_EXPECTED
    assert main([*args, "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert (
        "restored_claim_while_down" in table
        and "campaign CMP-20220215-01 2022-02-15T12:00:00Z" in table
    )
    assert main([*args[:5], "--format", "json"]) == 0  # without messages: observed only
    only = json.loads(capsys.readouterr().out)["incidents"]
    assert [(i["observed"], i["announced"]) for i in only] == [(True, False)] * 4


def test_vantage_offline_replay(tmp_path: Path) -> None:
    """Pull the vantage's network: every target and canary fails together."""
    cfg = config.load(FOUNDING / "config.yaml")
    lines = []
    for minute in range(60):
        ts = f"2022-02-15T12:{minute:02d}:00Z"
        dark = 10 <= minute < 40
        for svc, check in [("_vantage", "resolver"), ("_vantage", "reference")] + [
            (s.name, "web") for s in cfg.services
        ]:
            row = {"ts": ts, "service": svc, "check": check, "ok": not dark}
            lines.append(json.dumps({**row, "error": "unreachable" if dark else None}))
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines))
    report = replay(
        cfg, load_results(path, cfg), [], Classifier.from_services(cfg.services).classify
    )
    assert report.incidents == [] and report.campaigns == []
    (gap,) = report.gaps
    assert len(gap.outages) == len(cfg.services)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("nonsense", "not JSON"),
        ("[1]", "expected a JSON object, got list"),
        ('{"service": "mod", "check": "web", "ok": true}', "'ts' missing"),
        (
            '{"ts": "yesterday", "service": "mod", "check": "web", "ok": true}',
            "'ts' is not an ISO 8601",
        ),
        (
            '{"ts": "2022-02-15T12:00:00Z", "service": "mod", "check": "dns", "ok": true}',
            "unknown check 'dns' of service 'mod'",
        ),
        ('{"ts": "2022-02-15T12:00:00Z", "service": "mod", "check": "web", "ok": 1}', "'ok'"),
        (
            '{"ts": "2022-02-15T12:00:00Z", "service": "mod", "check": "web", "ok": false, '
            '"error": "boom"}',
            "'error' 'boom' is not one of timeout",
        ),
        (
            '{"ts": "2022-02-15T12:00:00Z", "service": "mod", "check": "web", "ok": true, '
            '"duration": -1}',
            "'duration' must be seconds",
        ),
    ],
)
def test_bad_results_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, error: str
) -> None:
    path = tmp_path / "RESULTS.jsonl"
    good = '{"ts": "2022-02-15T12:00:00Z", "service": "mod", "check": "web", "ok": true}'
    path.write_text(f"{good}\n\n{line}\n")
    code = main(["replay", "-c", str(FOUNDING / "config.yaml"), "--results", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and f"RESULTS.jsonl:3: {error}" in err, err


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{", "not JSON"),
        ('{"source": "x", "id": 1, "published_at": "2022-02-15T12:00:00Z"}', "'text'"),
        ('{"source": "", "id": 1, "published_at": "2022-02-15T12:00:00Z", "text": ""}', "'source'"),
        ('{"source": "x", "id": 1, "published_at": 5, "text": ""}', "'published_at'"),
    ],
)
def test_bad_messages_line(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ReplayError, match=re.escape(f"m.jsonl:1: {error}")):
        load_messages(path)


def test_missing_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["replay", "-c", str(FOUNDING / "config.yaml"), "--results", str(tmp_path / "no")]
    assert main(args) == 2
    assert "cannot read" in capsys.readouterr().err


def test_telegram_export_is_detected_by_content(tmp_path: Path) -> None:
    export = {
        "name": "dsszzi",
        "type": "public_channel",
        "id": 1001,
        "messages": [
            {
                "id": 101,
                "type": "message",
                "date": "2022-02-15T14:20:00",
                "date_unixtime": "1644927600",
                "text": "DDoS-атака на ПриватБанк",
            }
        ],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    try:
        importlib.import_module("monitor.sources.export")
        present = True
    except ImportError:
        present = False
    if not present:
        with pytest.raises(ReplayError, match="Telegram Desktop exports is not available"):
            load_messages(path)
    else:
        (msg,) = load_messages(path)
        assert msg.id == "101" and "ПриватБанк" in msg.text
