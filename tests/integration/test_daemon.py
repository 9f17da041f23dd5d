"""End to end: `outwatch run` against loopback targets, scraped, stopped, restarted."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import aiohttp

from tests.conftest import free_port, require_binary
from tests.integration.helpers import DaemonProcess, Target, wait_for


def write_config(tmp: Path, web_port: int, targets: dict[str, Target]) -> Path:
    services = "\n".join(
        f"""  - name: {name}
    group: bank
    checks:
      - {{kind: http, url: "{t.url}", id: web}}"""
        for name, t in targets.items()
    )
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: test-1
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{web_port}"}}
defaults: {{interval: 300ms, timeout: 250ms, failures_before_down: 3, successes_before_up: 2}}
services:
{services}
"""
    )
    return path


async def test_outage_lifecycle_and_restart(tmp_path: Path) -> None:
    bank, other = Target(free_port()), Target(free_port())
    await bank.start()
    await other.start()
    port = free_port()
    daemon = DaemonProcess(
        write_config(tmp_path, port, {"privatbank": bank, "monobank": other}),
        port,
        tmp_path / "log",
    )
    daemon.start()
    try:
        await daemon.wait_ready()

        async def status(name: str, want: str) -> bool:
            return (await daemon.service(name))["status"] == want

        await wait_for(lambda: status("privatbank", "up"), 10, "never up")
        _, metrics = await daemon.get("/metrics")
        assert (
            'probe_success{check="web",kind="http",service="privatbank",vantage="test-1"} 1.0'
            in metrics
        )
        assert 'probe_http_duration_seconds{check="web",kind="http",phase="connect"' in metrics

        # the target goes away: down only after failures_before_down probes
        await bank.stop()
        took = await wait_for(lambda: status("privatbank", "down"), 10, "never down")
        assert took >= 2 * 0.3 - 0.1
        svc = await daemon.service("privatbank")
        assert svc["checks"][0]["last"]["error"] == "refused"
        assert svc["outage"]["signature"].get("refused", 0) >= 3
        assert (await daemon.service("monobank"))["status"] == "up"

        # restart the daemon during the outage: the outage survives, exactly once
        assert daemon.stop() == 0
        daemon.start()
        await daemon.wait_ready()
        assert (await daemon.service("privatbank"))["status"] == "down"
        _, body = await daemon.get("/api/v1/outages?service=privatbank")
        assert len(body["outages"]) == 1 and body["outages"][0]["ended_at"] is None

        await bank.start()
        await wait_for(lambda: status("privatbank", "up"), 10, "never back up")

        async def closed() -> bool:
            _, b = await daemon.get("/api/v1/outages?service=privatbank")
            return len(b["outages"]) == 1 and b["outages"][0]["ended_at"] is not None

        await wait_for(closed, 5, "outage not closed in the store")
        _, metrics = await daemon.get("/metrics")
        assert (
            'outwatch_service_status{group="bank",service="privatbank",vantage="test-1"} 0.0'
            in metrics
        )
    finally:
        daemon.kill()
        await bank.stop()
        await other.stop()


async def test_metrics_pass_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    target = Target(free_port())
    await target.start()
    port = free_port()
    daemon = DaemonProcess(
        write_config(tmp_path, port, {"privatbank": target}), port, tmp_path / "log"
    )
    daemon.start()
    try:
        await daemon.wait_ready()
        await wait_for(lambda: _has_result(daemon), 10)
        _, text = await daemon.get("/metrics")
        out = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
            out.stdout + out.stderr
        )
    finally:
        assert daemon.stop(signal.SIGINT) == 0
        await target.stop()


async def _has_result(daemon: DaemonProcess) -> bool:
    try:
        return (await daemon.service("privatbank"))["checks"][0]["last"] is not None
    except aiohttp.ClientError:
        return False
