from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from alerts import console
from alerts.base import Alert, Notification, ReceiverContext
from alerts.registry import KINDS

T = datetime(2022, 2, 15, 12, 27, tzinfo=UTC)


def note(ends: datetime | None = None) -> Notification:
    alert = Alert(
        {"alertname": "incident_confirmed", "service": "privatbank"},
        {"summary": "PrivatBank down, DDoS announced"},
        T,
        ends,
    )
    return Notification("console", "{}:{service=privatbank}", {"service": "privatbank"}, (alert,))


def test_registered() -> None:
    assert KINDS["console"].model is console.ConsoleReceiver


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_prints_a_block(stream: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = console.ConsoleReceiver(stream=stream)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        await console.send(spec, note(), ReceiverContext(session))
    out, err = capsys.readouterr()
    text = out if stream == "stdout" else err
    assert text == (
        "── alert to console: [FIRING:1] incident_confirmed service=privatbank\n"
        "   FIRING incident_confirmed: PrivatBank down, DDoS announced (since 2022-02-15 12:27 UTC)\n"
    )


def test_resolved_block() -> None:
    text = console.block(note(datetime(2022, 2, 15, 14, 27, tzinfo=UTC)))
    assert "[RESOLVED:1]" in text and "resolved 14:27 UTC" in text
