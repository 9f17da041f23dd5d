"""A daemon config around one loopback target, for the runtime tests."""

from __future__ import annotations

from pathlib import Path

from tests.integration.helpers import Target


def write(tmp: Path, port: int, target: Target, extra: str = "", more: str = "") -> Path:
    """A config probing `target`; `more` is YAML after its one check (checks or services)."""
    path = tmp / "config.yaml"
    path.write_text(
        f"""vantage: unit
storage: {{path: ./ow.db, busy_timeout: 200ms}}
web: {{listen: "127.0.0.1:{port}"}}
defaults: {{interval: 200ms, timeout: 150ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - name: privatbank
    group: bank
    checks:
      - {{kind: http, url: "{target.url}", id: web}}
{more}
{extra}
"""
    )
    return path
