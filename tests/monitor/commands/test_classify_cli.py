"""`outwatch classify`: JSON lines in, JSON lines out, one-line errors for bad lines."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from monitor.cli import main

SERVICES = Path(__file__).parents[1] / "data" / "classify_services.yaml"


def _run(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, object]], list[str]]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_classifies_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "DDoS-атака на ПриватБанк"}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"id": 7, "text": "Diia is back online"})
        + "\n",
        encoding="utf-8",
    )
    code, rows, err = _run(["classify", "-c", str(SERVICES), str(src)], capsys)
    assert (code, err) == (0, [])
    assert [(r["id"], r["kind"], r["services"]) for r in rows] == [
        ("a", "attack", ["privatbank"]),
        (7, "restored", ["diia"]),
    ]
    assert all(0 < float(r["confidence"]) <= 1 and r["evidence"] for r in rows)  # type: ignore[arg-type]


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.dumps({"id": 1, "text": "Сайт Укрпошти не відкривається"}, ensure_ascii=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode() + b"\n")))
    code, rows, _ = _run(["classify", "-c", str(SERVICES)], capsys)
    assert code == 0
    assert rows == [
        {
            "id": 1,
            "kind": "outage",
            "services": ["ukrposhta"],
            "confidence": rows[0]["confidence"],
            "evidence": rows[0]["evidence"],
            "claims": [
                {
                    "service": "ukrposhta",
                    "kind": "outage",
                    "polarity": "asserted",
                    "time": "now",
                    "cause": "unknown",
                    "evidence": ["outage: не відкривається"],
                }
            ],
        }
    ]


def test_prints_denied_past_and_own_channel_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {
            "id": "d",
            "text": "Повідомлення про хакерську атаку на Укрпошту не відповідають дійсності.",
        },
        {"id": "p", "text": "Back in 2022, Oschadbank was hit by a DDoS"},
        {"id": "o", "text": "Мобільний інтернет відновлено.", "service": "kyivstar"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    code, rows, err = _run(["classify", "-c", str(SERVICES), str(src)], capsys)
    assert (code, err) == (0, [])
    got = [
        (
            r["id"],
            r["kind"],
            [(c["service"], c["kind"], c["polarity"], c["time"]) for c in r["claims"]],
        )  # type: ignore[union-attr, index]
        for r in rows
    ]
    assert got == [
        ("d", "other", [("ukrposhta", "attack", "denied", "now")]),
        ("p", "other", [("oschadbank", "attack", "asserted", "past")]),
        ("o", "restored", [("kyivstar", "restored", "asserted", "now")]),
    ]


def test_bad_lines_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b"not json\n"
        b"[1, 2]\n"
        b'{"id": "no-text"}\n'
        b'{"id": "n", "text": 5}\n'
        b"\xff\xfe\n"
        b'{"id": ["x"], "text": "t"}\n'
        + b"[" * 100_000
        + b"\n"
        + b'{"id": "ok", "text": "\xd0\x94\xd1\x96\xd1\x8f \xd0\xbd\xd0\xb5 \xd0\xbf\xd1\x80\xd0\xb0\xd1\x86\xd1\x8e\xd1\x94"}\n'
    )
    code, rows, err = _run(["classify", "-c", str(SERVICES), str(src)], capsys)
    assert code == 1
    assert [r["id"] for r in rows] == ["ok"]
    assert rows[0]["kind"] == "outage"
    assert err[0].startswith(f"{src}:1: not JSON")
    assert err[1] == f'{src}:2: expected an object {{"id": ..., "text": ...}}, got list'
    assert err[2] == f'{src}:3: missing "text"'
    assert err[3] == f'{src}:4: "text" must be a string, got int'
    assert err[4].startswith(f"{src}:5: not UTF-8")
    assert err[5] == f'{src}:6: "id" must be a string or a number'
    assert err[6] == f"{src}:7: not JSON: nested too deeply"
    assert all(":" in line and "Traceback" not in line for line in err)


def test_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows, err = _run(["classify", "-c", str(SERVICES), str(tmp_path / "nope")], capsys)
    assert (code, rows) == (2, [])
    assert err == [f"{tmp_path / 'nope'}: cannot read: No such file or directory"]


def test_config_with_only_services(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("services:\n  - {name: diia, aliases: [Дія]}\n", encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "Дія знову працює"}\n', encoding="utf-8")
    code, rows, _ = _run(["classify", "-c", str(cfg), str(src)], capsys)
    assert code == 0
    assert rows[0]["services"] == ["diia"] and rows[0]["kind"] == "restored"
