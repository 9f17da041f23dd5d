"""An unchanged blackbox_exporter scrape job, pointed at outwatch's /probe, in a real Prometheus.

The job is blackbox's documented one (`params: {module: [...]}` and the `__param_target`
relabelling); only the exporter address is outwatch's. Loopback targets: http 200, http 503 and
a closed tcp port must read probe_success 1, 0 and 0, with blackbox's instance labels.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, require_binary
from tests.deploy.prom import Prometheus
from tests.integration.helpers import DaemonProcess, wait_for
from tests.probes.servers import web_server

pytestmark = [pytest.mark.integration]


def _job(name: str, module: str, targets: list[str], exporter: str) -> dict[str, Any]:
    return {
        "job_name": name,
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": [{"targets": targets}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter},
        ],
    }


@contextlib.asynccontextmanager
async def _daemon(tmp: Path) -> AsyncIterator[DaemonProcess]:
    port = free_port()
    config = tmp / "config.yaml"
    config.write_text(
        f'vantage: probe-test\nstorage: {{path: ./outwatch.db}}\nweb: {{listen: "127.0.0.1:{port}"}}\n'
    )
    daemon = DaemonProcess(config, port, tmp / "outwatch.log")
    daemon.start()
    try:
        await daemon.wait_ready()
        yield daemon
    finally:
        daemon.kill()


async def test_blackbox_scrape_job_against_outwatch(tmp_path: Path) -> None:
    require_binary("prometheus")
    closed = f"127.0.0.1:{free_port()}"
    async with web_server() as web, _daemon(tmp_path) as daemon:
        ok, down = f"http://127.0.0.1:{web}/ok", f"http://127.0.0.1:{web}/status/503"
        exporter = f"127.0.0.1:{daemon.port}"
        jobs = [
            _job("blackbox_http", "http_2xx", [ok, down], exporter),
            _job("blackbox_tcp", "tcp_connect", [closed], exporter),
        ]
        prometheus = Prometheus(tmp_path, [], scrape_configs=jobs)
        prometheus.start()
        try:

            async def scraped() -> bool:
                try:
                    return len(prometheus.series("probe_success")) == 3
                except ValueError:  # still starting: its 503 is not JSON
                    return False

            await wait_for(scraped, 30, prometheus.log())
            got = {
                (r["metric"]["job"], r["metric"]["instance"]): r["value"][1]
                for r in prometheus.series("probe_success")
            }
            up = {r["metric"]["instance"]: r["value"][1] for r in prometheus.series("up")}
            codes = prometheus.series('probe_http_status_code{job="blackbox_http"}')
            labels = {k for r in prometheus.series("probe_success") for k in r["metric"]}
        finally:
            prometheus.stop()
        status, metrics = await daemon.get("/metrics")
    assert got == {
        ("blackbox_http", ok): "1",
        ("blackbox_http", down): "0",
        ("blackbox_tcp", closed): "0",
    }
    assert set(up.values()) == {"1"}  # every scrape answered, whatever the probe said
    assert {r["metric"]["instance"]: r["value"][1] for r in codes} == {ok: "200", down: "503"}
    assert labels == {"__name__", "instance", "job"}  # nothing of outwatch's own
    assert status == 200
    assert (
        'outwatch_probe_requests_total{module="http_2xx",result="success",vantage="probe-test"}'
        in metrics
    )
    assert 'module="tcp_connect",result="failure"' in metrics
