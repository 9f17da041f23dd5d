"""The Prometheus config and rules pass promtool: syntax, rule checks and the rule unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_binary
from tests.deploy.conftest import PROMETHEUS


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool")
    return subprocess.run(
        [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )


def test_config_is_valid_and_its_rule_file_resolves() -> None:
    # rule_files are relative to prometheus.yml, so checking in place proves they resolve
    out = _promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 rule files found" in out.stdout


def test_rules_are_valid() -> None:
    out = _promtool("check", "rules", "rules.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass() -> None:
    out = _promtool("test", "rules", "rules.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for rule in _rules():
        if "alert" in rule:
            labels = rule.get("labels") or {}
            annotations = rule.get("annotations") or {}
            assert isinstance(labels, dict) and labels.get("severity") in (
                "critical",
                "warning",
                "info",
            ), rule["alert"]
            assert isinstance(annotations, dict) and annotations.get("summary"), rule["alert"]


def test_every_alert_rule_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    alerts = {str(rule["alert"]) for rule in _rules() if "alert" in rule}
    doc = yaml.safe_load((PROMETHEUS / "rules.test.yml").read_text(encoding="utf-8"))
    cases = [case for test in doc["tests"] for case in test.get("alert_rule_test", [])]
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - fired == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"


def test_quorum_is_one_number_in_one_place() -> None:
    rules = {str(r.get("record")): r for r in _rules() if "record" in r}
    assert rules["outwatch:quorum:min_vantages"]["expr"] == "vector(2)"
    down = next(r for r in _rules() if r.get("alert") == "OutwatchServiceDown")
    assert "outwatch:quorum:min_vantages" in str(down["expr"])


def _snippet_job() -> dict[str, object]:
    [job] = yaml.safe_load((PROMETHEUS / "blackbox-dashboards.yml").read_text(encoding="utf-8"))
    assert isinstance(job, dict)
    return job


def test_blackbox_dashboards_snippet_is_a_valid_scrape_job(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": [_snippet_job()]}))
    out = _promtool("check", "config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr


def test_shipped_outwatch_job_relabels_as_the_snippet_does() -> None:
    prom = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    snippet = _snippet_job()
    assert jobs["outwatch"]["metric_relabel_configs"] == snippet["metric_relabel_configs"]
    # only probe_* series are relabelled: rules.yml and the outwatch dashboard keep `instance`
    for rule in jobs["outwatch"]["metric_relabel_configs"]:
        assert rule["source_labels"][0] == "__name__" and rule["regex"].startswith("probe_")
