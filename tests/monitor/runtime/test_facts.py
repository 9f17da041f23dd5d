"""Alert inputs from a snapshot: certificate facts only for checks that warn and have an expiry."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor import config
from monitor.runtime.facts import FactsMemo, alert_inputs
from monitor.runtime.pipeline import Pipeline
from probes.base import ProbeResult
from tests.monitor.web.snapshot import T, snapshot

CFG = """
vantage: unit
services:
  - name: privatbank
    group: bank
    checks:
      - {kind: http, url: "https://127.0.0.1:1/", id: warned, cert_expiry_warning: 14d}
      - {kind: http, url: "https://127.0.0.1:1/", id: unwarned}
      - {kind: http, url: "https://127.0.0.1:1/", id: no_expiry, cert_expiry_warning: 14d}
      - {kind: http, url: "https://127.0.0.1:1/", id: no_result, cert_expiry_warning: 14d}
"""


def test_certs_come_from_warned_checks_with_an_expiry_only() -> None:
    cfg = config.parse(CFG)
    p = Pipeline.from_config(cfg.services)
    expiry = datetime(2022, 3, 1, tzinfo=UTC)
    for check in ("warned", "unwarned"):
        result = ProbeResult(True, status_code=200, cert_expiry=expiry.timestamp())
        p.record("privatbank", check, "http", result, T)
    p.record("privatbank", "no_expiry", "http", ProbeResult(True, status_code=200), T)
    inputs = alert_inputs(snapshot(cfg, p), "https://ow.example", {}, {})
    assert [(c.check, c.expiry, c.warning) for c in inputs.certs] == [
        ("warned", expiry, 14 * 86400)
    ]
    assert [(s.name, s.status, s.outage_started_at) for s in inputs.services] == [
        ("privatbank", "up", None)
    ]


def test_memo_rebuilds_facts_when_a_status_or_the_config_changes() -> None:
    """Kept from one evaluation to the next while nothing changed; rebuilt when a status
    changes (an outage opens) or a reload brings a new config."""
    cfg = config.parse(CFG)
    p, memo = Pipeline.from_config(cfg.services), FactsMemo()
    p.record("privatbank", "warned", "http", ProbeResult(True, status_code=200), T)
    first = alert_inputs(snapshot(cfg, p), "", {}, {}, memo)
    again = alert_inputs(snapshot(cfg, p), "", {}, {}, memo)
    assert again.services is first.services
    for check in ("warned", "unwarned", "no_expiry", "no_result"):
        for _ in range(3):
            p.record("privatbank", check, "http", ProbeResult(False, error="refused"), T)
    down = alert_inputs(snapshot(cfg, p), "", {}, {}, memo).services
    assert [(s.status, s.outage_started_at is not None) for s in down] == [
        (p.statuses["privatbank"], "privatbank" in p.open_outages)
    ]
    assert down[0].status != first.services[0].status
    reloaded = config.parse(CFG.replace("id: unwarned}", "id: unwarned, cert_expiry_warning: 7d}"))
    expiry = datetime(2022, 3, 1, tzinfo=UTC).timestamp()
    p.record("privatbank", "unwarned", "http", ProbeResult(True, cert_expiry=expiry), T)
    certs = alert_inputs(snapshot(reloaded, p), "", {}, {}, memo).certs
    assert [(c.check, c.warning) for c in certs] == [("unwarned", 7 * 86400)]
