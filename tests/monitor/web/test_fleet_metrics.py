"""The `outwatch_fleet_*` families: the per-service ones are made once per change of the
decider's verdicts, not at every scrape (pure, no database)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.core.fleet import verdict, verdicts_data
from monitor.runtime.pipeline import Pipeline
from monitor.web.base import FleetSnapshot, Snapshot
from monitor.web.fleet import fleet_families
from monitor.web.metrics import render
from tests.monitor.web.snapshot import snapshot

CONFIG = """
vantage: kyiv
services:
  - name: bank
    checks: [{kind: http, url: "https://bank.example/", id: web}]
"""


def fleet_snap(shown: Any, decider: bool = True) -> Snapshot:
    cfg = config.parse(CONFIG)
    fleet = FleetSnapshot("kyiv-0", decider, True, None, 0, 0, shown, 0)
    return snapshot(cfg, Pipeline.from_config(cfg.services), fleet=fleet)


def value(snap: Snapshot, name: str, **labels: str) -> float:
    text = render(snap, list(fleet_families(snap))).decode()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"{name} {labels} not in the exposition")


def test_service_families_follow_the_verdicts_and_are_kept_while_unchanged() -> None:
    up = verdict({"kyiv": "up", "lviv": "up", "odesa": "up"}, 2)
    down = verdict({"kyiv": "down", "lviv": "down", "odesa": "up"}, 2)
    shown = verdicts_data({}, {"bank": up}, {"bank": up})
    first = list(fleet_families(fleet_snap(shown)))
    again = list(fleet_families(fleet_snap(verdicts_data(shown, {"bank": up}, {}))))
    per_service = [
        m for m in first if m.name.startswith(("outwatch_fleet_service", "outwatch_fleet_vantages"))
    ]
    assert len(per_service) == 5
    assert all(any(m is n for n in again) for m in per_service)  # the same objects, not remade
    moved = verdicts_data(shown, {"bank": down}, {"bank": down})
    snap = fleet_snap(moved)
    assert value(snap, "outwatch_fleet_service_status", service="bank", status="down") == 1.0
    assert value(snap, "outwatch_fleet_vantages_down", service="bank") == 2.0
    assert value(snap, "outwatch_fleet_vantages_up", service="bank") == 1.0
    # a non-decider shows no fleet status, whatever was made before
    names = {m.name for m in fleet_families(fleet_snap({}, decider=False))}
    assert "outwatch_fleet_decider" in names and "outwatch_fleet_service_status" not in names
