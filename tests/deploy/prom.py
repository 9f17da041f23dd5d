"""A real Prometheus (Debian's binary) on a free loopback port, scraping given targets each second."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import free_port, require_binary
from tests.deploy.conftest import PROMETHEUS


def _get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            data: dict[str, Any] = json.load(r)
    except urllib.error.HTTPError as exc:  # 400 on a parse error: the body says why
        data = json.load(exc)
    return data


class Prometheus:
    """Prometheus with deploy/prometheus/rules.yml, every group evaluated each second."""

    def __init__(
        self,
        tmp: Path,
        targets: list[str],
        drop_for: bool = False,
        scrape_configs: list[dict[str, Any]] | None = None,
    ) -> None:
        self.tmp = tmp
        self.targets = targets
        # given: these jobs instead of a plain `outwatch` job scraping `targets`
        self.scrape_configs = scrape_configs
        self.drop_for = drop_for  # alerts fire on the first evaluation, for tests that cannot wait
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))
        for group in rules["groups"]:
            group.pop("interval", None)
            for rule in group["rules"]:
                if self.drop_for:
                    rule.pop("for", None)
        (self.tmp / "rules.yml").write_text(yaml.safe_dump(rules))
        config = self.tmp / "prometheus.yml"
        jobs = self.scrape_configs or [
            {"job_name": "outwatch", "static_configs": [{"targets": self.targets}]}
        ]
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": ["rules.yml"],
                    "scrape_configs": jobs,
                }
            )
        )
        return config

    def start(self) -> None:
        """Start it (it becomes ready within a second or two; queries before that fail)."""
        binary = require_binary("prometheus")
        self._log = (self.tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self._write_config()}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        """Terminate and wait."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self._log.close()
            self.proc = None

    def log(self) -> str:
        """The end of its log."""
        return (self.tmp / "prometheus.log").read_text(errors="replace")[-2000:]

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query; the decoded JSON answer, errors included."""
        return _get_json(f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))

    def series(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query that must succeed; [] while Prometheus is not up."""
        try:
            body = self.query(expr)
        except OSError:
            return []
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def label_values(self, label: str, selector: str) -> list[str]:
        """What Grafana's label_values(selector, label) would list."""
        params = urllib.parse.urlencode({"match[]": selector})
        body = _get_json(f"{self.base}/api/v1/label/{label}/values?{params}")
        assert body["status"] == "success", body
        return list(body["data"])
