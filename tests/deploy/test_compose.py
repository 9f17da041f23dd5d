"""The compose stack is wired together: files it mounts exist, and each part points at the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from monitor import config
from tests.deploy.conftest import ALERTMANAGER, DEPLOY, GRAFANA, PROMETHEUS


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(DEPLOY / "docker-compose.yml")
    return data


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of the bind mounts (not named volumes)."""
    out = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            out[container] = host
    return out


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "outwatch",
        "prometheus",
        "alertmanager",
        "grafana",
        "webhook",
    }


def test_every_bind_mount_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for container, host in _mounts(service).items():
            assert (DEPLOY / host).exists(), f"{name}: {host} (for {container})"
    named = {v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])}
    declared = set(compose["volumes"])
    assert {n for n in named if not n.startswith(".")} == declared


def test_outwatch_is_built_from_the_repository_and_given_config_and_data(
    compose: dict[str, Any],
) -> None:
    service = compose["services"]["outwatch"]
    assert service["build"]["context"] == ".."
    mounts = _mounts(service)
    assert mounts["/etc/outwatch/config.yaml"] == "./outwatch/config.yaml"
    assert any(v.endswith(":/var/lib/outwatch") for v in service["volumes"])
    assert "127.0.0.1:9464:9464" in service["ports"]


def test_the_compose_outwatch_config_is_valid_and_listens_for_prometheus() -> None:
    cfg = config.load(DEPLOY / "outwatch" / "config.yaml")
    assert cfg.web.listen == "0.0.0.0:9464"
    assert cfg.storage.path.startswith("/var/lib/outwatch/")
    assert {s.group for s in cfg.services} >= {"bank", "government"}


def test_prometheus_scrapes_outwatch_and_alerts_alertmanager(compose: dict[str, Any]) -> None:
    prom = _yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    targets = [t for sc in jobs["outwatch"]["static_configs"] for t in sc["targets"]]
    assert targets == ["outwatch:9464"]
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"]
    mounts = _mounts(compose["services"]["prometheus"])
    for rule_file in prom["rule_files"]:
        assert mounts[f"/etc/prometheus/{rule_file}"] == f"./prometheus/{rule_file}"
    assert (
        "--config.file=/etc/prometheus/prometheus.yml"
        in compose["services"]["prometheus"]["command"]
    )


def test_alertmanager_gets_its_config(compose: dict[str, Any]) -> None:
    service = compose["services"]["alertmanager"]
    assert _mounts(service)["/etc/alertmanager/alertmanager.yml"] == (
        "./alertmanager/alertmanager.yml"
    )
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in service["command"]


def test_grafana_is_provisioned_with_the_datasource_and_dashboard(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["grafana"])
    datasources = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    [ds] = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"]
    providers = _yaml(GRAFANA / "provisioning" / "dashboards" / "outwatch.yml")
    [provider] = providers["providers"]
    folder = provider["options"]["path"]
    assert mounts[f"{folder}/outwatch.json"] == "./grafana/outwatch.json"
    assert mounts["/etc/grafana/provisioning/datasources"] == "./grafana/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./grafana/provisioning/dashboards"


def _receiver_urls() -> list[str]:
    am = _yaml(ALERTMANAGER / "alertmanager.yml")
    return [
        str(hook["url"])
        for receiver in am["receivers"]
        for hook in receiver.get("webhook_configs", [])
    ]


def test_alertmanager_reaches_its_receivers_by_service_name(compose: dict[str, Any]) -> None:
    # inside the Alertmanager container, 127.0.0.1 is Alertmanager itself
    urls = _receiver_urls()
    assert urls
    webhook = compose["services"]["webhook"]
    listen_port = webhook["environment"]["WEBHOOK_LISTEN"].rpartition(":")[2]
    for url in urls:
        parsed = urlsplit(url)
        assert parsed.hostname in compose["services"], url
        assert parsed.hostname != "alertmanager", url
        assert parsed.hostname == "webhook" and str(parsed.port) == listen_port, url
    assert _mounts(webhook)["/webhook_log.py"] == "./alertmanager/webhook_log.py"
    assert "webhook" in compose["services"]["alertmanager"]["depends_on"]
