"""Replay over recorded data: the founding case, determinism, and input errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from monitor import config
from monitor.base import Classification
from monitor.cli import main
from monitor.replay import Classify, ReplayError, load_messages, load_results, replay, report_dict

DATA = Path(__file__).parent / "data"
FOUNDING = DATA / "founding"


def keyword_classifier(cfg: config.Config) -> Classify:
    """A stand-in classifier: alias stems and a few words (the real one is monitor.classify)."""
    stems = {
        s.name: [[w[: max(3, len(w) - 2)] for w in a.lower().split()] for a in s.aliases]
        for s in cfg.services
    }

    def classify(text: str) -> Classification:
        words = re.findall(r"[\w.]+", text.lower())
        found = tuple(
            name
            for name, aliases in stems.items()
            if any(all(any(w.startswith(p) for w in words) for p in a) for a in aliases)
        )
        low = text.lower()
        if "відновлено" in low or "штатному режимі" in low:
            return Classification("restored", found)
        if "ddos" in low or "кібератак" in low:
            return Classification("attack", found)
        return Classification("other", found)

    return classify


def founding() -> dict[str, Any]:
    cfg = config.load(FOUNDING / "config.yaml")
    results = load_results(FOUNDING / "results.jsonl", cfg)
    messages = load_messages(FOUNDING / "messages.jsonl")
    return report_dict(replay(cfg, results, messages, keyword_classifier(cfg)))


def test_founding_case() -> None:
    report = founding()
    assert report == {
        "incidents": [
            {
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
                "services": ["privatbank", "oschadbank", "mod", "zsu"],
                "started_at": "2022-02-15T12:00:00Z",
            }
        ],
    }


def test_replay_command_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["replay", "-c", str(FOUNDING / "config.yaml"), "--results"]
    args += [str(FOUNDING / "results.jsonl"), "--format", "json"]
    outs = []
    for _ in range(2):
        assert main(args) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert len(json.loads(outs[0])["incidents"]) == 4  # no messages: observed only
    assert main([*args[:-1], "table"]) == 0
    table = capsys.readouterr().out
    assert "privatbank" in table and "campaign 2022-02-15T12:00:00Z" in table


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
    report = replay(cfg, load_results(path, cfg), [], keyword_classifier(cfg))
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
