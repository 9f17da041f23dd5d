"""The direct /metrics renderer writes exactly what prometheus_client's generate_latest writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.core import Metric

from monitor import config
from monitor.runtime.pipeline import Pipeline
from monitor.web.metrics import Histogram, counter, gauge, histogram, registry_for, render
from probes.base import ProbeResult

CONFIG = """
vantage: kyiv-1
defaults: {interval: 1s, timeout: 500ms, failures_before_down: 1, successes_before_up: 1}
services:
  - name: privatbank
    group: bank
    checks:
      - {kind: http, url: "https://privatbank.ua/", id: web}
      - {kind: dns, name: privatbank.ua}
  - name: mod
    group: government
    checks:
      - {kind: http, url: "https://mil.gov.ua/", id: вебсайт}
  - name: never
    checks:
      - {kind: tcp, target: "never.example:443"}
"""


class View:
    """What the daemon offers the collector."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.vantage = "kyiv-1"
        self.pipeline = pipeline
        self.late = Histogram((0.01, 0.1))
        for x in (0.001, 0.05, 3.0):
            self.late.observe(x)

    def extra_families(self) -> Iterator[Metric]:
        yield gauge(
            "outwatch_store_up",
            "Whether the\\ database is writable",
            ["vantage"],
            [(["kyiv-1"], 1.0)],
        )
        yield counter("outwatch_store_errors", "Errors\nmany", ["vantage"], [(["kyiv-1"], 3.0)])
        yield histogram(
            "outwatch_probe_start_lateness_seconds",
            "Lateness",
            ["vantage"],
            [(["kyiv-1"], self.late)],
        )


def test_render_matches_generate_latest() -> None:
    cfg = config.parse(CONFIG)
    p = Pipeline.from_config(cfg.services)
    t = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)
    ok = ProbeResult(
        ok=True, duration=0.0123, status_code=200, phases={"connect": 0.001, "tls": 1e-7}
    )
    bad = ProbeResult(
        ok=False, error="timeout", duration=10.0, detail="no answer", cert_expiry=1.7e9
    )
    p.record("privatbank", "web", "http", ok, t)
    p.record("privatbank", "dns:privatbank.ua", "dns", bad, t)
    mod_check = cfg.services[1].checks[0].id
    for i in range(3):
        p.record("mod", mod_check, "http", bad, t + timedelta(seconds=i))
    p.record("mod", mod_check, "http", ok, t + timedelta(seconds=5))
    view = View(p)
    expected = generate_latest(registry_for(view))
    assert render(view) == expected
    assert (
        b'outwatch_probes_total{check="web",kind="http",service="privatbank",vantage="kyiv-1"} 1.0'
        in expected
    )
