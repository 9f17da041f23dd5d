"""/probe answers like blackbox_exporter's, over the real runner and real loopback servers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.runtime.runner import run_check
from monitor.web.probe import OnDemand, handler, scrape_timeout
from monitor.web.server import auth_middleware
from probes.base import ProbeContext
from tests.conftest import free_port
from tests.probes.servers import web_server

MODULES = """
probe_modules:
  teapot: {kind: http, expect: {status: "418"}, timeout: 3s}
  bb_post:
    prober: http
    http: {method: POST, valid_status_codes: [200], fail_if_body_not_matches_regexp: ["POST"]}
"""


@contextlib.asynccontextmanager
async def probe_app(
    modules: Mapping[str, Any] | None = None, limit: int = 8, web_cfg: str = "{}"
) -> AsyncIterator[tuple[str, OnDemand]]:
    cfg = config.parse(f"web: {web_cfg}\n" + MODULES)
    ctx = ProbeContext()
    ondemand = OnDemand(
        lambda check: run_check(check, ctx),
        lambda: cfg.probe_modules if modules is None else modules,
        "test",
        limit,
    )
    app = web.Application(middlewares=[auth_middleware(cfg.web)])
    app.router.add_get("/probe", handler(ondemand))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/probe", ondemand
    finally:
        await runner.cleanup()


async def _get(url: str, **params: str) -> tuple[int, str, str]:
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": "3"}
    async with aiohttp.ClientSession() as s, s.get(url, params=params, headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


def _samples(text: str) -> dict[str, tuple[dict[str, str], float]]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name if not s.labels else f"{s.name}{sorted(s.labels.items())}"] = (
                s.labels,
                s.value,
            )
    return out


async def test_probe_answers_one_probes_families_without_outwatch_labels() -> None:
    async with web_server() as site, probe_app() as (url, _):
        status, ctype, text = await _get(url, target=f"127.0.0.1:{site}/ok", module="http_2xx")
    assert status == 200 and ctype.startswith("text/plain; version=")
    samples = _samples(text)
    assert samples["probe_success"] == ({}, 1.0)
    assert samples["probe_http_status_code"] == ({}, 200.0)
    assert samples["probe_timeout_seconds"] == ({}, 2.5)  # 3s header - blackbox's 0.5s offset
    assert samples["probe_duration_seconds"][1] > 0
    assert samples["probe_http_duration_seconds[('phase', 'connect')]"][1] >= 0
    for labels, _ in samples.values():
        assert not {"vantage", "service", "check", "kind"} & set(labels)


async def test_http_2xx_is_blackbox_s_2xx_and_the_default_module() -> None:
    async with web_server() as site, probe_app() as (url, _):
        _, _, ok = await _get(url, target=f"http://127.0.0.1:{site}/ok")
        _, _, moved = await _get(url, target=f"http://127.0.0.1:{site}/status/304")
        _, _, down = await _get(url, target=f"127.0.0.1:{site}/status/503")
    assert _samples(ok)["probe_success"][1] == 1.0
    assert _samples(moved)["probe_success"][1] == 0.0  # blackbox: 2xx only, outwatch's default 399
    assert _samples(down)["probe_success"][1] == 0.0
    assert _samples(down)["probe_http_status_code"][1] == 503.0


async def test_configured_modules_in_both_forms() -> None:
    async with web_server() as site, probe_app() as (url, _):
        _, _, teapot = await _get(url, target=f"127.0.0.1:{site}/status/418", module="teapot")
        _, _, post = await _get(url, target=f"127.0.0.1:{site}/echo", module="bb_post")
    assert _samples(teapot)["probe_success"][1] == 1.0
    assert _samples(teapot)["probe_timeout_seconds"][1] == 2.5  # 3s module vs 2.5s left
    assert _samples(post)["probe_success"][1] == 1.0


async def test_tcp_connect_to_a_closed_port_and_icmp_to_loopback() -> None:
    async with probe_app() as (url, _):
        _, _, closed = await _get(url, target=f"127.0.0.1:{free_port()}", module="tcp_connect")
        _, _, ping = await _get(url, target="127.0.0.1", module="icmp")
    assert _samples(closed)["probe_success"][1] == 0.0
    assert _samples(ping)["probe_success"][1] == 1.0
    assert _samples(ping)["probe_icmp_reply_hop_limit"][1] == 64.0


async def test_blackbox_s_errors() -> None:
    async with probe_app() as (url, _):
        assert await _get(url, module="http_2xx") == (
            400,
            "text/plain; charset=utf-8",
            "Target parameter is missing\n",
        )
        status, _, text = await _get(url, target="x", module='no"such')
        assert (status, text) == (400, 'Unknown module "no\\"such"\n')
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                url,
                params={"target": "x"},
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "soon"},
            ) as r,
        ):
            assert r.status == 500
            assert (await r.text()).startswith("Failed to parse timeout from Prometheus header")


async def test_a_target_the_module_cannot_take_fails_the_probe_not_the_request() -> None:
    async with probe_app() as (url, _):
        status, _, text = await _get(url, target="no-port-here", module="tcp_connect")
        _, _, debug = await _get(url, target="no-port-here", module="tcp_connect", debug="true")
    assert status == 200 and _samples(text)["probe_success"][1] == 0.0
    assert "probe failed" in debug and "target" in debug


async def test_debug_shows_log_families_and_module() -> None:
    async with web_server() as site, probe_app() as (url, _):
        status, ctype, text = await _get(url, target=f"127.0.0.1:{site}/ok", debug="true")
    assert status == 200 and ctype.startswith("text/plain")
    assert text.startswith("Logs for the probe:\n")
    assert "Metrics that would have been returned:\nprobe_" not in text  # HELP lines first
    assert "probe_success 1.0" in text
    assert "Module configuration:\n" in text and "kind: http" in text


async def test_over_the_limit_is_refused_and_counted() -> None:
    async with probe_app(limit=0) as (url, ondemand):
        status, _, text = await _get(url, target="127.0.0.1:1", module="tcp_connect")
    assert status == 503 and "limit 0" in text
    rows = {
        tuple(s.labels[k] for k in ("module", "result")): s.value
        for f in ondemand.families()
        for s in f.samples
        if s.name == "outwatch_probe_requests_total"
    }
    assert rows[("tcp_connect", "rejected")] == 1.0
    assert rows[("http_2xx", "success")] == 0.0  # every module's series exists from the start
    assert rows[("teapot", "failure")] == 0.0


async def test_probe_needs_credentials_when_metrics_do() -> None:
    web_cfg = '{auth: {tokens: ["s3cret"], protect_metrics: true}}'
    async with web_server() as site, probe_app(web_cfg=web_cfg) as (url, _):
        denied, _, _ = await _get(url, target=f"127.0.0.1:{site}/ok")
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                url,
                params={"target": f"127.0.0.1:{site}/ok"},
                headers={"Authorization": "Bearer s3cret"},
            ) as r,
        ):
            allowed = r.status
    assert (denied, allowed) == (401, 200)


@pytest.mark.parametrize(
    ("header", "module", "expected"),
    [
        (None, None, 119.5),  # no header: blackbox's 120s
        ("10", None, 9.5),
        ("10", 5.0, 5.0),  # the module's, when shorter
        ("10", 30.0, 9.5),
        ("0.2", None, 0.2),  # less than the offset: blackbox falls back to the module's (0)
    ],
)
def test_scrape_timeout_is_blackbox_s(
    header: str | None, module: float | None, expected: float
) -> None:
    got = scrape_timeout(header, module)
    assert got == (0.0 if header == "0.2" else expected)
