"""Config silences, maintenance windows and inhibit rules hold back fleet notifications too."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.base import Alert
from monitor import config
from monitor.runtime.decider import views

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_silenced_and_inhibited_fleet_alerts_are_held_back() -> None:
    cfg = config.parse(
        """alerts:
  silences: [{match: {service: gov}, comment: planned works}]
  inhibit_rules:
    - {source_match: {alertname: campaign_opened}, target_match: {alertname: service_down}}
"""
    )
    down = {"alertname": "service_down", "vantage": "fleet", "severity": "critical"}
    alerts = [
        Alert({**down, "service": "gov"}, {}, T0),
        Alert({**down, "service": "bank"}, {}, T0),
        Alert({"alertname": "incident_confirmed", "service": "bank", "vantage": "fleet"}, {}, T0),
    ]
    assert [a.labels["service"] for a in unmuted(cfg, alerts)] == ["bank", "bank"]
    wave = Alert({"alertname": "campaign_opened", "campaign": "c1", "vantage": "fleet"}, {}, T0)
    left = unmuted(cfg, [*alerts, wave])
    assert [a.labels["alertname"] for a in left] == ["incident_confirmed", "campaign_opened"]


def unmuted(cfg: config.Config, alerts: list[Alert]) -> list[Alert]:
    return [v.alert for v in views(cfg, alerts, T0) if v.state == "active"]
