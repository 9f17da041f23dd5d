"""The container healthcheck follows web.listen and web.tls, against a real daemon.

deploy/outwatch/healthcheck.py is what the Dockerfile's HEALTHCHECK runs; here it runs the same
way (a subprocess, the config from OUTWATCH_CONFIG) against outwatch listening on a port other
than 9464, over plain HTTP and over TLS with a certificate for another name.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import trustme

from monitor import config
from tests.conftest import free_port
from tests.deploy.conftest import DEPLOY
from tests.integration.helpers import ROOT, DaemonProcess

pytestmark = pytest.mark.integration

SCRIPT = DEPLOY / "outwatch" / "healthcheck.py"
DOCKERFILE = ROOT / "Dockerfile"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _healthcheck(cfg: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUTWATCH_CONFIG": str(cfg)}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def _healthy_within(cfg: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + seconds
    while True:
        out = _healthcheck(cfg)
        if out.returncode == 0 or time.monotonic() > deadline:
            return out
        time.sleep(0.3)


def _config(tmp: Path, port: int, web_extra: str = "") -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: hc
storage: {{path: ./outwatch.db}}
web: {{listen: "127.0.0.1:{port}"{web_extra}}}
services:
  - name: bank
    checks:
      - {{kind: tcp, target: "127.0.0.1:{free_port()}", interval: 1h}}
"""
    )
    return path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, Path]]:
    port = free_port()
    cfg = _config(tmp_path, port)
    proc = DaemonProcess(cfg, port, tmp_path / "outwatch.log")
    proc.start()
    try:
        yield proc, cfg
    finally:
        proc.kill()


def test_healthy_over_plain_http_at_the_configured_port(
    daemon: tuple[DaemonProcess, Path],
) -> None:
    proc, cfg = daemon
    out = _healthy_within(cfg, 30)
    assert out.returncode == 0, out.stderr + proc.log()


def test_a_config_edited_into_errors_still_gives_the_address(
    daemon: tuple[DaemonProcess, Path],
) -> None:
    # the daemon keeps its last good config until a reload; so does the healthcheck
    proc, cfg = daemon
    assert _healthy_within(cfg, 30).returncode == 0, proc.log()
    cfg.write_text(cfg.read_text().replace("kind: tcp", "kind: no-such-kind"))
    with pytest.raises(config.ConfigError):
        config.load(cfg)
    out = _healthcheck(cfg)
    assert out.returncode == 0, out.stderr


def test_healthy_over_tls_with_a_certificate_for_another_name(tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("outwatch.example.org")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "web.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "web.key"))
    port = free_port()
    tls = ", tls: {cert_path: web.pem, key_path: web.key}"
    cfg = _config(tmp_path, port, tls)
    proc = DaemonProcess(cfg, port, tmp_path / "outwatch.log")
    proc.start()
    try:
        out = _healthy_within(cfg, 30)
        assert out.returncode == 0, out.stderr + proc.log()
    finally:
        proc.kill()


def test_unhealthy_when_nothing_listens(tmp_path: Path) -> None:
    port = free_port()
    out = _healthcheck(_config(tmp_path, port))
    assert out.returncode == 1
    assert out.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz: "), out.stderr


def test_unusable_config_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("web: [not, a, mapping]\n")
    out = _healthcheck(cfg)
    assert out.returncode == 1
    assert out.stderr.startswith(f"unhealthy: {cfg}: no usable web section"), out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("listen", "tls", "url"),
    [
        ("0.0.0.0:9464", False, "http://127.0.0.1:9464/healthz"),
        ("[::]:9000", False, "http://[::1]:9000/healthz"),
        ("[::1]:9000", True, "https://[::1]:9000/healthz"),
        ("10.1.2.3:443", True, "https://10.1.2.3:443/healthz"),
    ],
)
def test_url_follows_listen_and_tls(listen: str, tls: bool, url: str) -> None:
    web = config.Web(listen=listen, tls=config.WebTls(cert_path="c", key_path="k") if tls else None)
    assert _module().healthz_url(web) == url


def test_the_image_runs_this_healthcheck_with_the_config_it_runs() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    copied = re.search(r"^COPY deploy/outwatch/healthcheck\.py (\S+)$", text, re.M)
    assert copied, "the Dockerfile does not copy the healthcheck"
    check = re.search(r"^HEALTHCHECK .*\\\n\s*CMD (.*)$", text, re.M)
    assert check and check[1] == f'["python3", "{copied[1]}"]'
    env = re.search(r"^ENV OUTWATCH_CONFIG=(\S+)$", text, re.M)
    cmd = re.search(r'^CMD \["run", "-c", "([^"]+)"\]$', text, re.M)
    assert env and cmd and env[1] == cmd[1]
