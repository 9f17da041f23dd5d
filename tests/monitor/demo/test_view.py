from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from monitor.demo.summary import Notice, Snapshot
from monitor.demo.view import log_lines, render

DAY = datetime(2022, 2, 15, 12, 30, tzinfo=UTC)


def services(status: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "privatbank",
            "title": "PrivatBank",
            "group": "bank",
            "status": status,
            "checks": [{"id": "web", "last": {"ok": status == "up", "error": "timeout"}}],
        },
        {"name": "diia", "title": "Diia", "group": "government", "status": "up", "checks": []},
    ]


INCIDENT = {
    "id": "INC-20220215-002",
    "service": "oschadbank",
    "status": "open",
    "observed": True,
    "announced": False,
    "started_at": "2026-01-01T00:00:07+00:00",  # 7 s in at speed 2: 12:21 of the day
    "flags": [],
}
HOSTILE = "[bold]not markup[/bold] <script>x</script>"


ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)


def snap(**kw: Any) -> Snapshot:
    return Snapshot(elapsed=20.0, day=DAY, origin=ORIGIN, speed=2.0, **kw)


def test_render_shows_every_part() -> None:
    s = snap(
        services=services("down"),
        incidents=[{**INCIDENT, "announced": True, "flags": ["restored_claim_while_down"]}],
        campaigns=[{"id": "c", "status": "open", "services": ["privatbank", "oschadbank", "mod"]}],
        announcements=[{"key": "dsszzi/101", "kind": "attack", "services": ["privatbank"]}],
        notices=[Notice("dsszzi/101", DAY, "DDoS on PrivatBank " + HOSTILE)],
        deliveries=[
            {
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "campaign_opened", "campaign": "c"},
                    }
                ]
            }
        ],
    )
    console = Console(width=160, record=True, color_system=None)
    console.print(render(s))
    out = console.export_text()
    for part in (
        "12:30 UTC",
        "12:21",
        "PrivatBank",
        "down",
        "timeout",
        "oschadbank",
        "restored_claim_while_down",
        "privatbank, oschadbank, mod",
        "[attack: privatbank]",
        HOSTILE,  # printed as text, not interpreted as rich markup
        "FIRING campaign_opened c",
    ):
        assert part in out, part


def test_render_before_anything_happened() -> None:
    console = Console(width=100, record=True, color_system=None)
    console.print(render(snap()))
    out = console.export_text()
    assert "Campaign: none yet" in out and "none yet" in out


def test_log_lines_say_what_changed() -> None:
    first = snap(services=services("up"))
    assert log_lines(None, first) == ["12:30 service privatbank: up", "12:30 service diia: up"]
    second = snap(
        services=services("down"),
        incidents=[INCIDENT],
        notices=[Notice("dsszzi/101", DAY, "Увага!\nDDoS")],
        deliveries=[
            {
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "service_down", "service": "privatbank"},
                    }
                ]
            }
        ],
    )
    assert log_lines(first, second) == [
        "12:30 service privatbank: down",
        "12:30 incident opened: INC-20220215-002 oschadbank (observed)",
        "12:30 notice dsszzi/101: Увага! DDoS",
        "12:30 webhook got FIRING service_down privatbank",
    ]
    third = snap(
        services=services("down"),
        incidents=[
            {
                **INCIDENT,
                "announced": True,
                "flags": ["restored_claim_while_down"],
                "status": "resolved",
            }
        ],
        campaigns=[{"id": "c", "services": ["a", "b", "c"]}],
        notices=second.notices,
        deliveries=second.deliveries,
    )
    assert log_lines(second, third) == [
        "12:30 incident INC-20220215-002 oschadbank: observed+announced",
        "12:30 incident INC-20220215-002 oschadbank: flag restored_claim_while_down",
        "12:30 incident INC-20220215-002 oschadbank: resolved",
        "12:30 campaign c: a, b, c",
    ]
