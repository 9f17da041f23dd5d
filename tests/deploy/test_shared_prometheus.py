"""outwatch beside blackbox_exporter in one real Prometheus, scraped as deploy/prometheus ships it.

One outwatch daemon and one blackbox_exporter (Debian's) probe the same loopback sites; one
Prometheus scrapes both, outwatch with the job of deploy/prometheus/blackbox-dashboards.yml.
Two things are checked:

- the shipped rules and outwatch dashboard read only outwatch's series (blackbox's have the
  same probe_* names but no `vantage`): no `{}` row, nothing of blackbox's in any result;
- the community blackbox dashboards (7587, 13659; their queries are in
  blackbox_dashboards.yaml) work on outwatch's /metrics: each query returns one series per
  check, the check being the `instance`.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from probes.families import HTTP_PHASES as PHASES
from tests.conftest import free_port, require_binary
from tests.deploy import dashboard
from tests.deploy.conftest import PROMETHEUS
from tests.deploy.dashboard import SUBSTITUTIONS
from tests.deploy.prom import Prometheus
from tests.integration.helpers import DaemonProcess, wait_for
from tests.probes.servers import Certs, dns_server, web_server

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

VANTAGE = "deploy-test"
DASHBOARDS = Path(__file__).with_name("blackbox_dashboards.yaml")

# Families the dashboards read that outwatch does not export yet (issue 16: another branch adds
# them). Their queries are only checked to parse, and the family to be absent; once the
# families are merged, empty this set and every query is held to one series per check.


@dataclass
class Stack:
    """The running daemon, blackbox_exporter and the Prometheus scraping both."""

    daemon: DaemonProcess
    prometheus: Prometheus
    checks: dict[str, set[str]]  # outwatch instance ("service/check") -> applies_to tags


@dataclass(frozen=True)
class Query:
    """One query of a community dashboard (see blackbox_dashboards.yaml)."""

    dashboard: int
    panel: str
    expr: str
    family: str
    applies_to: str
    shape: str

    def __str__(self) -> str:
        return f"{self.dashboard} {self.panel}"


def _queries() -> list[Query]:
    doc = yaml.safe_load(DASHBOARDS.read_text(encoding="utf-8"))
    return [Query(d["id"], **q) for d in doc["dashboards"] for q in d["queries"]]


QUERIES = _queries()
PRESENT = list(QUERIES)


def _config(tmp: Path, port: int, web: int, secure: int, dns: int, ca_file: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: {VANTAGE}
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - name: bank
    group: bank
    checks:
      - {{kind: http, url: "http://127.0.0.1:{web}/ok", id: web}}
      - {{kind: http, url: "https://127.0.0.1:{secure}/ok", id: secure, ca_file: "{ca_file}"}}
      - {{kind: tcp, target: "127.0.0.1:{web}", id: port}}
      - {{kind: dns, name: bank.test, resolver: "127.0.0.1:{dns}", id: name}}
  - name: mod
    group: government
    checks:
      - {{kind: http, url: "http://127.0.0.1:{web}/status/503"}}
"""
    )
    return path


def _blackbox(tmp: Path, port: int, ca_file: str) -> subprocess.Popen[bytes]:
    binary = require_binary("prometheus-blackbox-exporter")
    config = tmp / "blackbox.yml"
    module = {"prober": "http", "timeout": "2s", "http": {"tls_config": {"ca_file": ca_file}}}
    config.write_text(yaml.safe_dump({"modules": {"http_2xx": module}}))
    log = (tmp / "blackbox.log").open("wb")
    return subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _jobs(outwatch: str, blackbox: str, probed: list[str]) -> list[dict[str, Any]]:
    [job] = yaml.safe_load((PROMETHEUS / "blackbox-dashboards.yml").read_text(encoding="utf-8"))
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [outwatch]}])
    bb = {
        "job_name": "blackbox",
        "metrics_path": "/probe",
        "params": {"module": ["http_2xx"]},
        "static_configs": [{"targets": probed}],
        # blackbox's documented relabelling: the probed URL becomes `instance`
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox},
        ],
    }
    return [job, bb]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("shared")
    certs = Certs(tmp)
    async with contextlib.AsyncExitStack() as servers:
        web = await servers.enter_async_context(web_server())
        secure = await servers.enter_async_context(web_server(certs.server_context()))
        dns = await servers.enter_async_context(dns_server({("bank.test.", "A"): ["10.0.0.1"]}))
        port, bb_port = free_port(), free_port()
        daemon = DaemonProcess(
            _config(tmp, port, web, secure, dns, certs.ca_file), port, tmp / "outwatch.log"
        )
        probed = [f"https://127.0.0.1:{secure}/ok", f"http://127.0.0.1:{web}/ok"]
        jobs = _jobs(f"127.0.0.1:{port}", f"127.0.0.1:{bb_port}", probed)
        prometheus = Prometheus(tmp, [], scrape_configs=jobs)
        blackbox = _blackbox(tmp, bb_port, certs.ca_file)
        prometheus.start()
        daemon.start()
        checks = {
            "bank/web": {"all", "http"},
            "bank/secure": {"all", "http", "https"},
            "bank/port": {"all"},
            "bank/name": {"all"},
            f"mod/http:http://127.0.0.1:{web}/status/503": {"all", "http"},
        }
        stack = Stack(daemon, prometheus, checks)
        try:
            await daemon.wait_ready()
            await wait_for(lambda: _has_data(stack), 40, _logs(tmp))
            yield stack
        finally:
            prometheus.stop()
            daemon.kill()
            blackbox.terminate()
            blackbox.wait(15)


async def _has_data(stack: Stack) -> bool:
    p = stack.prometheus
    seen = {r["metric"]["instance"] for r in p.series('probe_success{job="outwatch"}')}
    return (
        seen == set(stack.checks)
        and len(p.series('probe_ssl_earliest_cert_expiry{job="blackbox"}')) == 1
        and bool(p.series('probe_ssl_earliest_cert_expiry{job="outwatch"}'))
        and bool(p.series('outwatch_service_status{service="mod"} == 2'))
        and bool(p.series("rate(outwatch_probes_total[1m]) > 0"))
    )


def _logs(tmp: Path) -> str:
    return "no data in Prometheus:\n" + "\n".join(
        f"--- {name}\n{(tmp / name).read_text(errors='replace')[-2000:]}"
        for name in ("outwatch.log", "prometheus.log", "blackbox.log")
        if (tmp / name).exists()
    )


def _rows(stack: Stack, expr: str) -> list[dict[str, str]]:
    body = stack.prometheus.query(expr)
    assert body["status"] == "success", (expr, body)
    return [r["metric"] for r in body["data"]["result"]]


# -- the shipped rules and dashboard next to blackbox's series


async def test_blackbox_series_share_the_names(stack: Stack) -> None:
    # the point of the other tests: blackbox's probe_* series are there, without `vantage`
    rows = _rows(stack, 'probe_success{job="blackbox"}')
    assert len(rows) == 2 and all("vantage" not in r for r in rows)


async def test_certificate_table_lists_only_outwatch_checks(stack: Stack) -> None:
    panel = next(
        p for p in dashboard.panels(dashboard.load()) if p["title"] == "Certificate expiry"
    )
    expr = dashboard.substitute(panel["targets"][0]["expr"], SUBSTITUTIONS)
    assert _rows(stack, expr) == [{"service": "bank", "check": "secure"}]


def _grouping(expr: str) -> set[str]:
    """The labels of an outermost `agg by (...)`: an outwatch row must have each of them."""
    found = re.match(r"\s*\w+\s+by\s*\(([^)]*)\)", expr)
    return {label.strip() for label in found[1].split(",")} if found else set()


def _shipped_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))
    out = [
        (f"rule {r.get('record') or r.get('alert')}", str(r["expr"]))
        for g in rules["groups"]
        for r in g["rules"]
    ]
    subs = {**SUBSTITUTIONS, "__range": "5m", "__rate_interval": "30s"}
    out += [
        (e.where, dashboard.substitute(e.expr, subs))
        for e in dashboard.expressions(dashboard.load())
    ]
    return out


@pytest.mark.parametrize(("where", "expr"), _shipped_exprs(), ids=[e[0] for e in _shipped_exprs()])
async def test_no_row_of_the_rules_or_dashboard_comes_from_blackbox(
    stack: Stack, where: str, expr: str
) -> None:
    wanted = _grouping(expr) & {"service", "check", "vantage", "group"}
    for row in _rows(stack, expr):
        assert row.get("job") != "blackbox", (where, row)
        assert all(row.get(label) for label in wanted), (where, row)


# -- the community blackbox dashboards on outwatch's /metrics


def _regex_escape(value: str) -> str:
    """A value as Grafana puts it in a Prometheus regex matcher (escaped twice: PromQL string)."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def _substitute(q: Query, instance: str) -> str:
    return dashboard.substitute(
        q.expr, {"target": instance, "instance": instance, "job": "outwatch"}
    )


def _expected(stack: Stack, q: Query) -> set[str]:
    return {instance for instance, tags in stack.checks.items() if q.applies_to in tags}


def _series_per_instance(q: Query) -> int:
    return len(PHASES) if q.shape == "per_phase" else 1


async def test_dashboard_variables_list_each_check_as_an_instance(stack: Stack) -> None:
    instances = stack.prometheus.label_values("instance", 'probe_success{job="outwatch"}')
    assert set(instances) == set(stack.checks)
    assert "outwatch" in stack.prometheus.label_values("job", "probe_success")


@pytest.mark.parametrize("q", PRESENT, ids=str)
async def test_query_returns_one_series_per_check_with_all_selected(stack: Stack, q: Query) -> None:
    rows = _rows(stack, _substitute(q, ".+"))
    if q.shape == "one":
        assert len(rows) == 1, rows
        return
    # 13659 picks the job itself; 7587 reads every job, blackbox's too
    ours = rows if "$job" in q.expr else [r for r in rows if r.get("job") == "outwatch"]
    counts = {i: sum(r["instance"] == i for r in ours) for i in {r["instance"] for r in ours}}
    assert counts == {i: _series_per_instance(q) for i in _expected(stack, q)}


@pytest.mark.parametrize("q", PRESENT, ids=str)
async def test_query_returns_the_check_when_one_instance_is_selected(
    stack: Stack, q: Query
) -> None:
    for instance in sorted(_expected(stack, q)):
        rows = _rows(stack, _substitute(q, _regex_escape(instance)))
        if q.shape == "one":
            assert len(rows) == 1, (instance, rows)
            continue
        assert [r["instance"] for r in rows] == [instance] * _series_per_instance(q), rows


async def test_every_query_reads_the_family_it_names() -> None:
    for q in QUERIES:
        assert re.search(rf"\b{q.family}\{{", q.expr), q
        assert q.applies_to in {"all", "http", "https"} and q.shape in {
            "per_check",
            "per_phase",
            "one",
        }, q
    assert {q.dashboard for q in QUERIES} == {7587, 13659}
