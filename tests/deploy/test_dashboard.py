"""The Grafana dashboard loads, is import-ready, and never hard-codes a data source."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_binary
from tests.deploy import dashboard
from tests.deploy.dashboard import DATASOURCE_REF, SUBSTITUTIONS


@pytest.fixture(scope="module")
def dash() -> dict[str, Any]:
    return dashboard.load()


def test_identity_is_stable(dash: dict[str, Any]) -> None:
    assert dash["uid"] == "outwatch"
    assert dash["title"] == "outwatch"
    assert "id" not in dash or dash["id"] is None  # an id would clash on import
    assert "__inputs" not in dash  # nothing to fill in on import: the datasource variable does it


def test_variables(dash: dict[str, Any]) -> None:
    found = {v["name"]: v for v in dash["templating"]["list"]}
    assert list(found) == ["datasource", "vantage", "group", "service"]
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    for name in ("vantage", "group", "service"):
        var = found[name]
        assert var["type"] == "query"
        assert var["datasource"] == DATASOURCE_REF
        assert var["definition"].startswith("label_values(")
        assert var["includeAll"] and var["multi"]


def _refs(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every `datasource` value anywhere in the JSON, with where it is."""
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                out.append((f"{path}.{key}", value))
            out.extend(_refs(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_refs(value, f"{path}[{i}]"))
    return out


def test_every_datasource_is_the_variable(dash: dict[str, Any]) -> None:
    refs = _refs(dash)
    assert refs
    wrong = [(where, ref) for where, ref in refs if ref != DATASOURCE_REF]
    assert wrong == []


def test_every_panel_target_and_annotation_names_the_datasource(dash: dict[str, Any]) -> None:
    for panel in dashboard.panels(dash):
        if panel["type"] == "row":
            continue
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource") == DATASOURCE_REF, panel["title"]
    annotations = dash["annotations"]["list"]
    assert annotations
    for ann in annotations:
        assert ann["datasource"] == DATASOURCE_REF, ann["name"]


def test_panel_ids_are_unique_and_panels_fit_the_grid(dash: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard.panels(dash)]
    assert len(ids) == len(set(ids))
    for panel in dashboard.panels(dash):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize(
    "title",
    [
        "Status map",
        "Status by vantage",
        "Open incidents",
        "Incident flags",
        "Campaign",
        "Availability over the range",
        "HTTP latency by phase",
        "Probe errors by class",
        "Announcements by source and kind",
        "Certificate expiry",
        "Sources connected",
        "Notifications",
        "Instances",
    ],
)
def test_the_panels_a_soc_needs_are_there(dash: dict[str, Any], title: str) -> None:
    assert title in {p["title"] for p in dashboard.panels(dash)}


def test_announcements_are_drawn_as_annotations(dash: dict[str, Any]) -> None:
    exprs = [a["expr"] for a in dash["annotations"]["list"]]
    assert any("increase(outwatch_announcements_total" in e for e in exprs)


def test_expressions_are_extracted(dash: dict[str, Any]) -> None:
    exprs = dashboard.expressions(dash)
    targets = sum(len(p.get("targets", [])) for p in dashboard.panels(dash))
    assert len(exprs) == targets + 3 + len(dash["annotations"]["list"])
    for e in exprs:
        assert e.expr.strip(), e.where
        # only the variables Grafana itself or this dashboard defines
        leftover = dashboard.substitute(
            e.expr,
            {
                k: "x"
                for k in (
                    "vantage",
                    "group",
                    "service",
                    "__range",
                    "__rate_interval",
                    "__interval",
                )
            },
        )
        assert "$" not in leftover, e.where


def test_every_expression_parses(dash: dict[str, Any], tmp_path: Path) -> None:
    # promtool parses rule expressions offline: wrap each one in a recording rule
    promtool = require_binary("promtool")
    exprs = dashboard.expressions(dash)
    rules = [
        {"record": f"dashboard:expr:{i}", "expr": dashboard.substitute(e.expr, SUBSTITUTIONS)}
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(exprs)} rules found" in out.stdout
