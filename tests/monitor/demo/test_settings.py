from __future__ import annotations

import pytest

from monitor.config import parse
from monitor.demo import settings
from monitor.demo.run import export_path, schedule
from monitor.demo.sites import SERVICES
from monitor.sources.export import load_export

URLS = {s.name: f"http://127.0.0.1:{10000 + i}/" for i, s in enumerate(SERVICES)}


@pytest.mark.parametrize(
    ("speed", "interval", "timeout", "quiet"),
    [(1.0, 2.0, 1.0, 10.0), (2.0, 1.0, 0.5, 5.0), (5.0, 0.4, 0.2, 2.0)],
)
def test_config_is_valid_and_scaled(
    speed: float, interval: float, timeout: float, quiet: float
) -> None:
    cfg = parse(settings.config_text(URLS, "http://127.0.0.1:9/hook", "demo.db", speed))
    assert cfg.vantage.name == "demo"
    assert [s.name for s in cfg.services] == [s.name for s in SERVICES]
    check = cfg.services[0].checks[0]
    assert (check.interval, check.timeout) == pytest.approx((interval, timeout))
    assert check.failures_before_down == 3
    assert cfg.correlation.quiet_period == pytest.approx(quiet)
    assert cfg.correlation.boost_interval > check.timeout
    assert {r.name for r in cfg.alerts.receivers} == {"console", "webhook"}


def test_notices_of_the_day() -> None:
    messages = load_export(export_path(), "dsszzi")
    assert [m.id for m in messages] == ["101", "102", "103", "104"]  # the pin is not a notice
    assert messages[0].text.startswith("Увага! Фіксуємо масовану DDoS-атаку")
    assert "Ministry of Defence" in messages[1].text
    assert messages[3].text.endswith("#кібербезпека")
    assert all(m.source == "dsszzi" for m in messages)


@pytest.mark.parametrize(("speed", "first", "last"), [(1.0, 18.0, 66.0), (2.0, 9.0, 33.0)])
def test_schedule(speed: float, first: float, last: float) -> None:
    plan = schedule(load_export(export_path(), "dsszzi"), speed)
    assert plan[0][0] == pytest.approx(first)
    assert plan[-1][0] == pytest.approx(last)
    assert [at for at, _ in plan] == sorted(at for at, _ in plan)
