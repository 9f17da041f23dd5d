"""The committed JSON Schema is what `outwatch schema` writes, and the example config points at it."""

from __future__ import annotations

import json
from pathlib import Path

from monitor import config

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "outwatch.schema.json").read_text(encoding="utf-8")
    assert committed == config.json_schema(), "run: outwatch schema -o outwatch.schema.json"


def test_example_config_points_at_the_schema() -> None:
    first = (ROOT / "config.example.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./outwatch.schema.json"


def test_schema_knows_every_probe_kind_and_receiver() -> None:
    text = json.dumps(json.loads(config.json_schema()))
    for kind in ("http", "tcp", "dns", "tls", "webhook", "slack", "pagerduty", "email", "telegram"):
        assert f'"const": "{kind}"' in text or f'"{kind}"' in text
