"""The blackbox_exporter families each probe reports, on success and on failure, and how /metrics
writes them (the daemon's renderer and prometheus_client agree byte for byte)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.runtime.pipeline import Pipeline
from monitor.web.metrics import render
from probes.base import ProbeResult
from probes.families import fnv1a32
from tests.conftest import free_port
from tests.monitor.web.snapshot import snapshot
from tests.probes import servers
from tests.probes.servers import dns_server, raw_server, run_probe, web_server

TIMINGS = {"probe_dns_lookup_time_seconds"}


def values(result: ProbeResult) -> dict[str, float]:
    """name{label values} -> value, timings left out (they differ every run)."""
    out = {}
    for family, labels, value in result.gauges():
        if family.name in TIMINGS or family.name.endswith("_duration_seconds"):
            continue
        out[family.name + ("{" + ",".join(labels) + "}" if labels else "")] = value
    return out


def names(result: ProbeResult) -> set[str]:
    return {f.name for f, _, _ in result.gauges()}


HTTP_ALWAYS = {
    "probe_ip_protocol": 4.0,
    "probe_ip_addr_hash": float(fnv1a32(bytes([127, 0, 0, 1]))),
    "probe_http_ssl": 0.0,
    "probe_failed_due_to_regex": 0.0,
}


async def test_http_ok_and_503() -> None:
    async with web_server() as port:
        ok, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/ok")
        bad, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/status/503")
    body = float(len("all systems operational"))
    assert values(ok) == HTTP_ALWAYS | {
        "probe_http_status_code": 200.0,
        "probe_http_content_length": body,
        "probe_http_uncompressed_body_length": body,  # counted, though not kept
        "probe_http_redirects": 0.0,
        "probe_http_version": 1.1,
    }
    assert values(bad)["probe_http_status_code"] == 503.0  # a failure keeps what the answer said
    assert values(bad)["probe_http_content_length"] == float(len("maintenance"))
    phases = {labels for f, labels, _ in ok.gauges() if f.name == "probe_http_duration_seconds"}
    assert phases == {("resolve",), ("connect",), ("tls",), ("processing",), ("transfer",)}


async def test_http_redirect_and_regex() -> None:
    async with web_server() as port:
        moved, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/redirect/2")
        regex, _ = await run_probe(
            "http", url=f"http://127.0.0.1:{port}/ok", expect={"body_match": "down"}
        )
    assert moved.ok and values(moved)["probe_http_redirects"] == 2.0
    assert (regex.error, values(regex)["probe_failed_due_to_regex"]) == ("content", 1.0)
    assert values(regex)["probe_http_uncompressed_body_length"] == 23.0


async def test_refused_and_timeout_keep_what_was_set() -> None:
    refused, _ = await run_probe("http", url=f"http://127.0.0.1:{free_port()}/")
    async with raw_server(servers.hang) as port:
        hung, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/")
    for result in (refused, hung):
        assert not result.ok
        assert values(result) == HTTP_ALWAYS | {
            "probe_http_status_code": 0.0,
            "probe_http_content_length": 0.0,
            "probe_http_uncompressed_body_length": 0.0,
            "probe_http_redirects": 0.0,
            "probe_http_version": 0.0,
        }


async def test_resolve_failure_reports_only_the_resolve_phase() -> None:
    result, _ = await run_probe("http", url="http://127.0.0.1/", ip_version="6")
    assert result.error == "dns"
    phases = {labels for f, labels, _ in result.gauges() if f.name == "probe_http_duration_seconds"}
    assert phases == {("resolve",)}
    assert values(result)["probe_ip_protocol"] == 0.0  # no address was chosen


async def test_https_sets_ssl_families(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("good")) as port:
        result, _ = await run_probe(
            "http", url=f"https://127.0.0.1:{port}/ok", ca_file=certs.ca_file
        )
    assert values(result)["probe_http_ssl"] == 1.0
    assert {
        "probe_ssl_earliest_cert_expiry",
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "probe_ssl_last_chain_info",
        "probe_tls_version_info",
    } <= names(result)


async def test_tcp_regex() -> None:
    async with raw_server(servers.banner) as port:
        ok, _ = await run_probe("tcp", target=f"127.0.0.1:{port}", expect="^220 ")
    async with raw_server(servers.close_at_once) as port:  # closes without a match
        bad, _ = await run_probe("tcp", target=f"127.0.0.1:{port}", send="hi\n", expect="^SSH-")
    assert values(ok) == {k: v for k, v in HTTP_ALWAYS.items() if k != "probe_http_ssl"}
    assert values(bad)["probe_failed_due_to_regex"] == 1.0
    assert "probe_ssl_earliest_cert_expiry" not in names(ok)


async def test_dns_counts() -> None:
    records = {("privatbank.ua.", "A"): ["104.18.1.1", "104.18.2.2"]}
    async with dns_server(records) as port:
        ok, _ = await run_probe("dns", name="privatbank.ua", resolver=f"127.0.0.1:{port}")
        nx, _ = await run_probe("dns", name="nope.example", resolver=f"127.0.0.1:{port}")
    assert values(ok) == {
        "probe_ip_protocol": 4.0,
        "probe_ip_addr_hash": HTTP_ALWAYS["probe_ip_addr_hash"],
        "probe_dns_answer_rrs": 2.0,
        "probe_dns_authority_rrs": 0.0,
        "probe_dns_additional_rrs": 0.0,
        "probe_dns_query_succeeded": 1.0,
    }
    assert (nx.error, values(nx)["probe_dns_query_succeeded"]) == ("dns", 1.0)
    async with dns_server(silent=True) as port:
        silent, _ = await run_probe("dns", name="privatbank.ua", resolver=f"127.0.0.1:{port}")
    assert (silent.error, values(silent)["probe_dns_query_succeeded"]) == ("timeout", 0.0)


CONFIG = """
vantage: kyiv-1
services:
  - name: privatbank
    checks:
      - {kind: http, url: "https://privatbank.ua/", id: web}
      - {kind: tcp, target: "privatbank.ua:443", id: tcp-443}
"""


async def test_renderer_writes_carried_families(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("good")) as port:
        https, _ = await run_probe(
            "http", url=f"https://127.0.0.1:{port}/ok", ca_file=certs.ca_file
        )
    refused, _ = await run_probe("tcp", target=f"127.0.0.1:{free_port()}")
    cfg = config.parse(CONFIG)
    p = Pipeline.from_config(cfg.services)
    t = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)
    p.record("privatbank", "web", "http", https, t)
    p.record("privatbank", "tcp-443", "tcp", refused, t)
    text = render(snapshot(cfg, p))
    families = list(text_string_to_metric_families(text.decode()))  # a valid exposition
    assert {"probe_ssl_last_chain_info", "probe_failed_due_to_regex"} <= {f.name for f in families}
    # labels sort around outwatch's own: fingerprint_sha256 and issuer between check and kind
    line = next(
        ln for ln in text.decode().splitlines() if ln.startswith("probe_ssl_last_chain_info{")
    )
    keys = [pair.split("=")[0] for pair in line[line.index("{") + 1 : line.index("}")].split('",')]
    assert keys == sorted(keys) and "issuer" in keys and "vantage" in keys
    assert 'probe_failed_due_to_regex{check="tcp-443",kind="tcp"' in text.decode()
