"""outwatch's probes next to the real blackbox_exporter on the same loopback targets.

For every case both probe the same target; outwatch's result goes through the daemon's /metrics
renderer. Every family both emit must agree on labels (outwatch's own aside) and value (timings
by presence only), and the families only one side emits must be the few listed here with why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor import config
from monitor.runtime.pipeline import Pipeline
from monitor.runtime.runner import run_check
from monitor.web.metrics import render
from probes.base import ProbeContext
from tests.conftest import free_port
from tests.monitor.web.snapshot import snapshot
from tests.probes import servers
from tests.probes.blackbox import Blackbox, Series, parse
from tests.probes.servers import dns_server, has_ipv6_loopback, web_server

pytestmark = pytest.mark.integration

OWN = frozenset(("service", "check", "kind", "vantage"))
RECORDS = {("privatbank.ua.", "A"): ["104.18.1.1", "104.18.2.2"]}
# what only blackbox reports in these cases, and why outwatch does not (none today)
ONLY_BLACKBOX: dict[str, str] = {}
# what only outwatch reports among probe_* families (none today; outwatch_* are its own)
ONLY_OUTWATCH: dict[str, str] = {}
# the families a drop-in must have (issue 16), each compared in at least one case
REQUIRED = {
    "probe_success",
    "probe_duration_seconds",
    "probe_http_status_code",
    "probe_http_version",
    "probe_http_ssl",
    "probe_http_content_length",
    "probe_http_redirects",
    "probe_http_duration_seconds",
    "probe_failed_due_to_regex",
    "probe_ip_protocol",
    "probe_dns_lookup_time_seconds",
    "probe_tls_version_info",
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_ssl_last_chain_info",
    "probe_dns_answer_rrs",
    "probe_dns_authority_rrs",
    "probe_dns_additional_rrs",
    "probe_icmp_duration_seconds",
    "probe_icmp_reply_hop_limit",
    "probe_http_last_modified_timestamp_seconds",
    "probe_dns_query_succeeded",
    "probe_ip_addr_hash",
}


def modules(ca_file: str) -> dict[str, Any]:
    """blackbox modules matching outwatch's checks (blackbox's defaults otherwise)."""
    tls = {"ca_file": ca_file}
    return {
        "http_2xx": {"prober": "http", "timeout": "5s", "http": {"tls_config": tls}},
        "tls_connect": {"prober": "tcp", "timeout": "5s", "tcp": {"tls": True, "tls_config": tls}},
        "tcp_connect": {"prober": "tcp", "timeout": "5s"},
        "dns_a": {
            "prober": "dns",
            "timeout": "5s",
            "dns": {"query_name": "privatbank.ua", "query_type": "A"},
        },
        "http_insecure": {
            "prober": "http",
            "timeout": "5s",
            "http": {"tls_config": {"insecure_skip_verify": True}},
        },
        "icmp": {"prober": "icmp", "timeout": "5s"},
        "icmp6": {"prober": "icmp", "timeout": "5s", "icmp": {"preferred_ip_protocol": "ip6"}},
    }


def is_timing(name: str) -> bool:
    return name.endswith("_duration_seconds") or name == "probe_dns_lookup_time_seconds"


def compare(case: str, theirs: Series, ours: Series) -> list[str]:
    """Every difference, one line each."""
    problems = []
    for name in sorted(set(theirs) | set(ours)):
        if name not in ours:
            if name not in ONLY_BLACKBOX:
                problems.append(f"{case}: only blackbox has {name}: {dict(theirs[name])}")
            continue
        if name not in theirs:
            if name not in ONLY_OUTWATCH:
                problems.append(f"{case}: only outwatch has {name}: {dict(ours[name])}")
            continue
        a, b = theirs[name], ours[name]
        if set(a) != set(b):
            problems.append(f"{case}: {name} labels differ: blackbox {set(a)}, outwatch {set(b)}")
        elif not is_timing(name):
            for labels, value in a.items():
                if b[labels] != value:
                    problems.append(
                        f"{case}: {name}{dict(labels)} blackbox {value}, outwatch {b[labels]}"
                    )
    return problems


def service(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """One service holding every case as a check (failing cases are fine: nothing alerts)."""
    return {"name": "bench", "checks": [{"timeout": "5s", "interval": "60s", **c} for c in checks]}


async def test_families_match_blackbox(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    closed = free_port()
    async with (
        web_server() as web,
        web_server(certs.server_context("short-intermediate")) as tls,
        dns_server(RECORDS) as dns,
        dns_server({}) as nx,  # NXDOMAIN for everything
        Blackbox(tmp_path, modules(certs.ca_file)) as blackbox,
    ):
        ca = certs.ca_file
        cases: list[tuple[str, str, str, dict[str, Any]]] = [
            # (id, blackbox target, module, outwatch check)
            ("http-200", f"http://127.0.0.1:{web}/ok", "http_2xx", {"kind": "http"}),
            ("http-503", f"http://127.0.0.1:{web}/status/503", "http_2xx", {"kind": "http"}),
            ("http-redirect", f"http://127.0.0.1:{web}/redirect/2", "http_2xx", {"kind": "http"}),
            ("http-refused", f"http://127.0.0.1:{closed}/", "http_2xx", {"kind": "http"}),
            (
                "https-chain",
                f"https://127.0.0.1:{tls}/ok",
                "http_2xx",
                {"kind": "http", "ca_file": ca},
            ),
            ("tls-chain", f"127.0.0.1:{tls}", "tls_connect", {"kind": "tls", "ca_file": ca}),
            ("tcp-refused", f"127.0.0.1:{closed}", "tcp_connect", {"kind": "tcp"}),
            ("tcp-open", f"127.0.0.1:{web}", "tcp_connect", {"kind": "tcp"}),
            ("dns-a", f"127.0.0.1:{dns}", "dns_a", {"kind": "dns", "name": "privatbank.ua"}),
            ("dns-nx", f"127.0.0.1:{nx}", "dns_a", {"kind": "dns", "name": "privatbank.ua"}),
            ("icmp-v4", "127.0.0.1", "icmp", {"kind": "icmp"}),
            ("http-modified", f"http://127.0.0.1:{web}/modified", "http_2xx", {"kind": "http"}),
            (
                "https-insecure",
                f"https://127.0.0.1:{tls}/ok",
                "http_insecure",
                {"kind": "http", "verify_tls": False},
            ),
        ]
        if has_ipv6_loopback():
            cases.append(("icmp-v6", "::1", "icmp6", {"kind": "icmp"}))
        checks = []
        for case, target, _, fields in cases:
            where = {"http": "url", "dns": "resolver"}.get(fields["kind"], "target")
            checks.append({"id": case, where: target, **fields})
        cfg = config.parse(yaml.safe_dump({"vantage": "kyiv-1", "services": [service(checks)]}))
        p = Pipeline.from_config(cfg.services)
        ctx = ProbeContext()
        at = datetime.now(UTC)
        theirs: dict[str, Series] = {}
        for check in cfg.services[0].checks:
            result = await run_check(check, ctx)
            p.record("bench", check.id, check.kind, result, at)
        for case, target, module, _ in cases:
            theirs[case] = await blackbox.probe(target, module)
        text = render(snapshot(cfg, p)).decode()
    problems, compared = [], set()
    for case, *_ in cases:
        ours = {k: v for k, v in parse(text, OWN, check=case).items() if k.startswith("probe_")}
        problems += compare(case, theirs[case], ours)
        compared |= set(theirs[case]) & set(ours)
    assert not problems, "\n".join(problems)
    assert not REQUIRED - compared, f"never compared: {REQUIRED - compared}"
    # the point of the chain case: both say the intermediate's 5 days, not the leaf's 60
    expiry = theirs["https-chain"]["probe_ssl_earliest_cert_expiry"][frozenset()]
    assert 4 < (expiry - at.timestamp()) / 86400 <= 5
