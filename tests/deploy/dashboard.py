"""Reading the Grafana dashboard: its data source references and every PromQL expression in it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.conftest import DASHBOARD

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$", re.S)


@dataclass(frozen=True)
class Expr:
    """One PromQL expression found in the dashboard, and where."""

    where: str  # "panel 'Status map' target A", "variable service", "annotation 'Outages opened'"
    expr: str
    instant: bool = False


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    """The dashboard as parsed JSON."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def expressions(dash: dict[str, Any]) -> list[Expr]:
    """Every PromQL expression: panel targets, variable queries (their selector), annotations."""
    out: list[Expr] = []
    for panel in panels(dash):
        for target in panel.get("targets", []):
            where = f"panel {panel['title']!r} target {target['refId']}"
            out.append(Expr(where, target["expr"], bool(target.get("instant"))))
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = LABEL_VALUES.match(query)
            assert match, f"variable {var['name']}: expected label_values(selector, label)"
            out.append(Expr(f"variable {var['name']}", match["selector"], True))
    for ann in dash["annotations"]["list"]:
        out.append(Expr(f"annotation {ann['name']!r}", ann["expr"]))
    return out


# What Grafana would put in place of its variables when everything is selected.
SUBSTITUTIONS = {
    "vantage": ".*",
    "group": ".*",
    "service": ".*",
    "__range": "1h",
    "__rate_interval": "1m",
    "__interval": "1m",
}


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana variables ($name and ${name}) the way Grafana would before querying."""

    def repl(m: re.Match[str]) -> str:
        name = m["braced"] or m["bare"]
        return values[name]

    return re.sub(r"\$\{(?P<braced>\w+)\}|\$(?P<bare>\w+)", repl, expr)
