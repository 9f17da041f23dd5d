"""The Alertmanager example passes amtool and routes by severity and group as documented."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import require_binary
from tests.deploy.conftest import ALERTMANAGER

CONFIG = ALERTMANAGER / "alertmanager.yml"


def test_config_is_valid() -> None:
    amtool = require_binary("amtool")
    out = subprocess.run(
        [amtool, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ("alertname=OutwatchServiceDown severity=critical group=bank", "oncall-banks,oncall"),
        ("alertname=OutwatchServiceDown severity=critical group=government", "oncall"),
        ("alertname=OutwatchStoreDown severity=critical", "oncall"),
        ("alertname=OutwatchServiceDownPartial severity=warning group=bank", "soc-banks"),
        (
            "alertname=OutwatchServiceDownPartial severity=warning group=government",
            "soc-government",
        ),
        ("alertname=OutwatchServiceDownPartial severity=warning group=telecom", "soc"),
        ("alertname=OutwatchSourceStale severity=warning", "outwatch-operators"),
        ("alertname=OutwatchNotificationsFailing severity=warning", "outwatch-operators"),
        ("alertname=Something", "soc"),
    ],
)
def test_routing(labels: str, receivers: str) -> None:
    amtool = require_binary("amtool")
    out = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels.split()],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == receivers
