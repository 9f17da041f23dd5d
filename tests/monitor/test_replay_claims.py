"""Replay over Telegram Desktop exports full of notices that must not open incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import config
from monitor.cli import main
from monitor.core.classify.classifier import Classifier
from monitor.replay import load_messages, load_results, replay

FOUNDING = Path(__file__).parent / "data" / "founding"
T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)

# denials, past events, ministry war news, planned restorations and maintenance, a service's
# product news: official wording that names monitored services and claims nothing live
QUIET = [
    "Повідомлення про DDoS-атаку на ПриватБанк, Ощадбанк і monobank не відповідають дійсності.",
    "Ukrposhta says reports of a hack are false; PrivatBank denies any cyberattack.",
    "Інформація про злам сайту Міноборони — фейк.",
    "Два роки тому Ощадбанк пережив наймасштабнішу DDoS-атаку.",
    "Back in 2022, Oschadbank was hit by a DDoS.",
    "Нагадаємо, торік сайт ЗСУ був недоступний через кібератаку.",
    "Міноборони: окупанти вдарили по Одесі дронами, є загиблі.",
    "ЗСУ відбили 40 атак противника на Покровському напрямку.",
    "The Ministry of Defence says Russian missiles struck energy infrastructure overnight.",
    "Роботу Приват24 планується відновити після завершення планових робіт.",
    "Приват24 буде недоступний з 02:00 до 04:00 через планові технічні роботи.",
    "monobank запустив нову функцію для ФОП.",
]


def _export(path: Path, texts: list[str], start: datetime) -> None:
    messages: list[dict[str, Any]] = []
    for i, text in enumerate(texts, start=1):
        when = start + timedelta(minutes=5 * i)
        messages.append(
            {
                "id": i,
                "type": "message",
                "date": when.replace(tzinfo=None).isoformat(),
                "date_unixtime": str(int(when.timestamp())),
                "text": [{"type": "bold", "text": "Увага! "}, text],
            }
        )
    messages.append({"id": 999, "type": "service", "action": "pin_message"})
    chat = {"name": "Official", "type": "public_channel", "id": 1001, "messages": messages}
    path.write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")


def _quiet_results(path: Path, start: datetime, minutes: int) -> None:
    rows = []
    for m in range(minutes):
        ts = (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z")
        for svc in ("privatbank", "oschadbank", "monobank", "mod", "zsu"):
            rows.append(json.dumps({"ts": ts, "service": svc, "check": "web", "ok": True}))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_an_export_of_denials_past_war_news_and_plans_opens_nothing(tmp_path: Path) -> None:
    cfg = config.load(FOUNDING / "config.yaml")
    export, results = tmp_path / "result.json", tmp_path / "results.jsonl"
    _export(export, QUIET, T0)
    _quiet_results(results, T0, 90)
    messages = load_messages(export)
    assert len(messages) == len(QUIET)
    report = replay(
        cfg, load_results(results, cfg), messages, Classifier.from_services(cfg.services).classify
    )
    assert (report.incidents, report.campaigns) == ([], [])


def test_the_same_notices_amid_the_founding_case_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The founding case's messages plus the quiet ones: the known result, unchanged."""
    founding = [json.loads(x) for x in (FOUNDING / "messages.jsonl").read_text().splitlines() if x]
    quiet = [
        {
            "source": "dsszzi",
            "id": 500 + i,
            "published_at": f"2022-02-15T12:{i * 4:02d}:30Z",
            "text": t,
        }
        for i, t in enumerate(QUIET)
    ]
    messages = tmp_path / "messages.jsonl"
    lines = [json.dumps(m, ensure_ascii=False) for m in founding + quiet]
    messages.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["replay", "-c", str(FOUNDING / "config.yaml"), "--results"]
    args += [str(FOUNDING / "results.jsonl"), "--format", "json", "--messages"]
    assert main([*args, str(FOUNDING / "messages.jsonl")]) == 0
    known = json.loads(capsys.readouterr().out)
    assert main([*args, str(messages)]) == 0
    assert json.loads(capsys.readouterr().out) == known
