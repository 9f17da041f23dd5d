"""outwatch's /probe next to blackbox_exporter's /probe: the same modules file, the same targets.

blackbox's modules (tests/probes/test_vs_blackbox.py) are written both into blackbox.yml and,
unchanged, into outwatch's `probe_modules:`; each target is asked of both /probe endpoints.
Every family both answer must agree on labels and value (timings by presence), and the error
answers (missing target, unknown module) must be byte for byte blackbox's.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from monitor import config
from monitor.runtime.runner import run_check
from monitor.web.probe import OnDemand, handler
from probes.base import ProbeContext
from tests.conftest import free_port
from tests.probes import servers
from tests.probes.blackbox import Blackbox, parse
from tests.probes.servers import dns_server, web_server
from tests.probes.test_vs_blackbox import RECORDS, compare, modules

pytestmark = pytest.mark.integration

# blackbox 0.23 (Debian's) predates probe_timeout_seconds, which newer blackbox answers too
NEWER_BLACKBOX = {"probe_timeout_seconds"}


async def test_probe_matches_blackbox_s_probe(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    closed = free_port()
    mods = modules(certs.ca_file)
    cfg = config.parse(yaml.safe_dump({"probe_modules": mods}))
    ctx = ProbeContext()
    ondemand = OnDemand(lambda c: run_check(c, ctx), lambda: cfg.probe_modules, "t")
    app = web.Application()
    app.router.add_get("/probe", handler(ondemand))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ours_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/probe"  # type: ignore[union-attr]
    try:
        async with (
            web_server() as http,
            web_server(certs.server_context("short-intermediate")) as tls,
            dns_server(RECORDS) as dns,
            Blackbox(tmp_path, mods) as blackbox,
            aiohttp.ClientSession() as session,
        ):
            cases = [
                (f"http://127.0.0.1:{http}/ok", "http_2xx"),
                (f"127.0.0.1:{http}/status/503", "http_2xx"),  # no scheme: both add http://
                (f"http://127.0.0.1:{http}/redirect/2", "http_2xx"),
                (f"https://127.0.0.1:{tls}/ok", "http_2xx"),
                (f"https://127.0.0.1:{tls}/ok", "http_insecure"),
                (f"127.0.0.1:{tls}", "tls_connect"),
                (f"127.0.0.1:{closed}", "tcp_connect"),
                (f"127.0.0.1:{http}", "tcp_connect"),
                (f"127.0.0.1:{dns}", "dns_a"),
                ("127.0.0.1", "icmp"),
            ]
            problems, compared = [], set()
            for target, module in cases:
                params = {"target": target, "module": module}
                async with session.get(ours_url, params=params) as r:
                    assert r.status == 200
                    ours = parse(await r.text())
                theirs = await blackbox.probe(target, module)
                for name in NEWER_BLACKBOX:
                    ours.pop(name, None)
                problems += compare(f"{module} {target}", theirs, ours)
                compared |= set(theirs) & set(ours)
            errors = []
            for params in ({"module": "http_2xx"}, {"target": "x", "module": "nope"}):
                answers = []
                for url in (ours_url, f"{blackbox.base}/probe"):
                    async with session.get(url, params=params) as r:
                        answers.append((r.status, await r.text()))
                errors.append(answers)
    finally:
        await runner.cleanup()
    assert not problems, "\n".join(problems)
    assert {"probe_success", "probe_http_status_code", "probe_ssl_earliest_cert_expiry"} <= compared
    assert {"probe_dns_answer_rrs", "probe_icmp_reply_hop_limit", "probe_ip_addr_hash"} <= compared
    for ours_answer, theirs_answer in errors:
        assert ours_answer == theirs_answer
