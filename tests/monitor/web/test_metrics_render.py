"""The direct /metrics renderer writes a valid exposition with every family's samples."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.runtime.pipeline import Pipeline
from monitor.web.families import families
from monitor.web.metrics import CheckLines, render
from probes import families as pf
from probes.base import Carried, ProbeResult
from tests.monitor.web.snapshot import snapshot

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
T = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)


def samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_render_writes_every_family_parseably() -> None:
    cfg = config.parse(CONFIG)
    p = Pipeline.from_config(cfg.services)
    ok = ProbeResult(
        ok=True, duration=0.0123, status_code=200, phases={"connect": 0.001, "tls": 1e-7}
    )
    bad = ProbeResult(
        ok=False, error="timeout", duration=10.0, detail="no answer", cert_expiry=1.7e9
    )
    p.record("privatbank", "web", "http", ok, T)
    p.record("privatbank", "dns:privatbank.ua", "dns", bad, T)
    mod_check = cfg.services[1].checks[0].id
    for i in range(3):
        p.record("mod", mod_check, "http", bad, T + timedelta(seconds=i))
    p.record("mod", mod_check, "http", ok, T + timedelta(seconds=5))
    snap = snapshot(cfg, p)
    got = samples(render(snap, families(snap)))
    web = {"service": "privatbank", "check": "web", "kind": "http", "vantage": "kyiv-1"}
    dns = {
        "service": "privatbank",
        "check": "dns:privatbank.ua",
        "kind": "dns",
        "vantage": "kyiv-1",
    }
    mod = {"service": "mod", "check": mod_check, "kind": "http", "vantage": "kyiv-1"}
    assert got[key("probe_success", **web)] == 1.0
    assert got[key("probe_success", **dns)] == 0.0
    assert got[key("probe_duration_seconds", **web)] == 0.0123
    # blackbox's own families come from what each probe set (tests/probes/test_families.py)
    assert got[key("outwatch_probes_total", **mod)] == 4.0
    assert got[key("outwatch_probe_errors_total", error="timeout", **mod)] == 3.0
    assert got[key("outwatch_check_up", **mod)] == 1.0
    assert got[key("outwatch_check_up", **dns)] == 0.0
    bank = {"service": "privatbank", "group": "bank", "vantage": "kyiv-1"}
    assert got[key("outwatch_service_status", **bank)] == 1.0  # degraded
    assert got[key("outwatch_service_state", status="degraded", **bank)] == 1.0
    assert got[key("outwatch_outage_open", **bank)] == 1.0
    assert (
        got[key("outwatch_outages_total", service="mod", group="government", vantage="kyiv-1")]
        == 1.0
    )
    assert (
        got[key("outwatch_service_status", service="never", group="other", vantage="kyiv-1")]
        == -1.0
    )
    assert got[key("outwatch_store_errors_total", vantage="kyiv-1")] == 3.0
    assert (
        got[key("outwatch_probe_start_lateness_seconds_bucket", le="0.1", vantage="kyiv-1")] == 2.0
    )
    assert (
        got[key("outwatch_announcements_total", source="cert", kind="attack", vantage="kyiv-1")]
        == 2.0
    )
    assert got[key("outwatch_source_up", source="ingest", kind="ingest", vantage="kyiv-1")] == 0.0
    assert (
        got[key("outwatch_build_info", version=__import__("monitor").__version__, vantage="kyiv-1")]
        == 1.0
    )


def lines_of(text: bytes) -> list[str]:
    return sorted(ln for ln in text.decode().splitlines() if not ln.startswith("#"))


def test_kept_lines_are_the_latest_results_at_each_scrape() -> None:
    """A result that landed before a scrape is in it, whether or not the lines were written
    between scrapes; what is kept always renders as a fresh render of the same snapshot."""
    cfg = config.parse(CONFIG)
    p = Pipeline.from_config(cfg.services)
    kept = CheckLines()
    slow = ProbeResult(ok=True, duration=0.25, phases={"connect": 0.125})
    down = ProbeResult(ok=False, error="refused", duration=0.5, detail="refused")

    def scrape() -> bytes:
        snap = snapshot(cfg, p)
        text = render(snap, families(snap), kept)
        assert lines_of(text) == lines_of(render(snap, families(snap)))  # as if from scratch
        return text

    p.record("privatbank", "web", "http", slow, T)
    web = {"service": "privatbank", "check": "web", "kind": "http", "vantage": "kyiv-1"}
    assert samples(scrape())[key("probe_duration_seconds", **web)] == 0.25
    kept.update(snapshot(cfg, p))  # written between scrapes (Api.metrics_warm) ...
    p.record("privatbank", "web", "http", down, T + timedelta(seconds=1))  # ... then a result
    got = samples(scrape())
    assert got[key("probe_duration_seconds", **web)] == 0.5
    assert got[key("probe_success", **web)] == 0.0
    assert got[key("outwatch_probes_total", **web)] == 2.0
    assert got[key("outwatch_check_up", **web)] == 0.0
    p.record("privatbank", "web", "http", slow, T + timedelta(seconds=2))
    kept.update(snapshot(cfg, p))
    assert samples(scrape())[key("probe_duration_seconds", **web)] == 0.25


def test_a_reload_drops_removed_checks_and_relabels_a_new_kind() -> None:
    cfg = config.parse(CONFIG)
    p = Pipeline.from_config(cfg.services)
    kept = CheckLines()
    ok = ProbeResult(ok=True, duration=0.01, phases={"connect": 0.001})
    p.record("privatbank", "web", "http", ok, T)
    p.record("mod", cfg.services[1].checks[0].id, "http", ok, T)
    render(snapshot(cfg, p), cache=kept)
    # `web` becomes a tcp check; mod's only check goes
    cfg = config.parse(
        CONFIG.replace('{kind: http, url: "https://privatbank.ua/", id: web}', WEB_TCP).replace(
            '{kind: http, url: "https://mil.gov.ua/", id: вебсайт}', "{kind: tcp, target: m:1}"
        )
    )
    p.reconfigure(cfg.services, T)
    p.record("privatbank", "web", "tcp", ok, T + timedelta(seconds=1))
    snap = snapshot(cfg, p)
    text = render(snap, cache=kept)
    assert lines_of(text) == lines_of(render(snap))
    got = samples(text)
    tcp = {"service": "privatbank", "check": "web", "kind": "tcp", "vantage": "kyiv-1"}
    assert got[key("probe_success", **tcp)] == 1.0
    assert got[key("outwatch_probes_total", **tcp)] == 1.0
    assert got[key("outwatch_probes_total", **(tcp | {"kind": "http"}))] == 1.0  # a counter stays
    assert not any(s[0] == "probe_success" and ("service", "mod") in s[1] for s in got)
    assert not any(s[0] == "probe_http_duration_seconds" for s in got)  # no http check left


WEB_TCP = '{kind: tcp, target: "privatbank.ua:443", id: web}'


def test_kept_lines_follow_any_sequence_of_results_and_reloads() -> None:
    """Whatever happened between two scrapes, the kept lines render as a fresh render would."""
    rng = random.Random(7)
    configs = [
        config.parse(CONFIG),
        config.parse(CONFIG.replace("      - {kind: dns, name: privatbank.ua}\n", "")),
    ]
    cfg = configs[0]
    p = Pipeline.from_config(cfg.services)
    kept = CheckLines()
    results = [
        ProbeResult(ok=True, duration=0.01, phases={"connect": 0.001}),
        ProbeResult(ok=False, error="timeout", duration=10.0, cert_expiry=1.7e9),
        ProbeResult(ok=True, duration=0.02, status_code=200, carried=TLS_CARRIED),
        ProbeResult(ok=True, duration=0.03, phases={"tls": 0.5}, carried=TLS_CARRIED),
    ]
    at = T
    for step in range(60):
        if step % 15 == 14:
            cfg = configs[rng.randrange(2)]
            p.reconfigure(cfg.services, at)
        else:
            service = rng.choice(cfg.services)
            check = rng.choice(service.checks)
            p.record(service.name, check.id, check.kind, rng.choice(results), at)
        at += timedelta(seconds=1)
        snap = snapshot(cfg, p)
        if rng.random() < 0.5:
            kept.update(snap)  # between scrapes
        else:
            assert lines_of(render(snap, cache=kept)) == lines_of(render(snap)), step
    assert samples(render(snapshot(cfg, p), cache=kept))  # and it parses


# an https result's families: one labelled `phase` (between kind and service), one labelled
# around outwatch's own labels, one met twice (not in a row), and -0.0
TLS_CARRIED = Carried(
    samples=(
        (pf.TLS_VERSION_INFO, ("TLS 1.3",), 1.0),
        (pf.SSL_LAST_CHAIN_INFO, ("ab12", "CN=a,O=\\b", 'CN="c"', "a\nb"), 1.0),
        (pf.IP_PROTOCOL, (), -0.0),
        (pf.TLS_VERSION_INFO, ("TLS 1.2",), 0.0),
    ),
    phase_family=pf.HTTP_DURATION,
    phase_names=("connect", "tls"),
)
