"""Rules and dashboard read only outwatch's series in a Prometheus shared with blackbox_exporter.

blackbox_exporter's series have the same `probe_*` names but no `vantage` label; every selector
of an outwatch or probe_ series in the shipped rules and dashboard carries `vantage!=""`.
"""

from __future__ import annotations

import pytest
import yaml

from tests.deploy import dashboard
from tests.deploy.conftest import PROMETHEUS
from tests.deploy.scoping import unscoped


def test_the_finder_sees_bare_and_matched_selectors_and_skips_recorded_ones() -> None:
    expr = (
        'min by (service) (probe_ssl_earliest_cert_expiry) + outwatch_up{vantage!=""}'
        ' + probe_success{job="x"} + service:outwatch_service_down:count'
    )
    assert unscoped(expr) == ["probe_ssl_earliest_cert_expiry", 'probe_success{job="x"}']


def _rule_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))
    return [
        (str(rule.get("record") or rule.get("alert")), str(rule["expr"]))
        for group in doc["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize(("name", "expr"), _rule_exprs(), ids=[r[0] for r in _rule_exprs()])
def test_every_rule_selector_is_scoped(name: str, expr: str) -> None:
    assert unscoped(expr) == [], name


@pytest.mark.parametrize("expr", dashboard.expressions(dashboard.load()), ids=lambda e: e.where)
def test_every_dashboard_selector_is_scoped(expr: dashboard.Expr) -> None:
    assert unscoped(expr.expr) == [], expr.where
