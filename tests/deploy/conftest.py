"""Paths of the deploy files and the PromQL they contain, shared by the deploy tests."""

from __future__ import annotations

from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "outwatch.json"
