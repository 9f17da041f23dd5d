"""The compose example delivers: a real Alertmanager with alertmanager.yml posts to webhook_log.py.

Compose resolves the receivers' host `webhook` to the logging service; here the same URLs point
at webhook_log.py on a loopback port, and group_wait is cut so the test does not wait 10 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port, require_binary
from tests.deploy.conftest import ALERTMANAGER

pytestmark = pytest.mark.integration

SCRIPT = ALERTMANAGER / "webhook_log.py"


def _alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        try:
            return require_binary(name)
        except pytest.skip.Exception:
            continue
    return require_binary("alertmanager")


def _wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(what)


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    out = tmp_path / "webhook.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env={"WEBHOOK_LISTEN": f"127.0.0.1:{port}"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(lambda: b"listening" in out.read_bytes(), "webhook_log did not start")
            yield port, out
        finally:
            proc.terminate()
            proc.wait(10)


def _post(url: str, body: object) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _no_group_wait(route: dict[str, Any]) -> None:
    if "group_wait" in route:
        route["group_wait"] = "0s"
    for child in route.get("routes", []):
        _no_group_wait(child)


def test_a_critical_bank_alert_reaches_both_oncall_receivers(
    tmp_path: Path, logger: tuple[int, Path]
) -> None:
    port, log = logger
    text = (ALERTMANAGER / "alertmanager.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(text.replace("http://webhook:5001/", f"http://127.0.0.1:{port}/"))

    _no_group_wait(config["route"])
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    am_port = free_port()
    proc = subprocess.Popen(
        [
            _alertmanager_binary(),
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{am_port}"
    try:
        _wait(lambda: _ready(url), "alertmanager did not become ready")
        labels = {"alertname": "OutwatchServiceDown", "severity": "critical", "group": "bank"}
        assert _post(f"{url}/api/v2/alerts", [{"labels": {**labels, "service": "pb"}}]) == 200
        _wait(
            lambda: log.read_text().count("firing OutwatchServiceDown") >= 2,
            f"no delivery:\\n{log.read_text()}",
        )
    finally:
        proc.terminate()
        proc.wait(10)
    lines = sorted(line for line in log.read_text().splitlines() if "firing" in line)
    assert lines == [
        "/oncall firing OutwatchServiceDown group=bank service=pb severity=critical",
        "/oncall-banks firing OutwatchServiceDown group=bank service=pb severity=critical",
    ]


def test_a_bad_body_is_refused_and_logged(logger: tuple[int, Path]) -> None:
    port, log = logger
    assert _post(f"http://127.0.0.1:{port}/soc", "not an object") == 400
    assert _post(f"http://127.0.0.1:{port}/soc", {"alerts": []}) == 200
    _wait(lambda: "not an Alertmanager notification" in log.read_text(), "not logged")
