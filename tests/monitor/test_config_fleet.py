"""storage.url and fleet: secrets from the environment or a file, never shown; clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor import config

ROOT = Path(__file__).resolve().parents[2]


def test_url_from_a_file_and_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pg").write_text("postgresql://ow:s3cret@db.example/outwatch\n")
    cfg = config.parse("storage: {url_file: pg}\nvantage: kyiv", "c.yaml", tmp_path)
    assert cfg.storage.url is not None
    assert cfg.storage.url.get_secret_value() == "postgresql://ow:s3cret@db.example/outwatch"
    assert "s3cret" not in repr(cfg.storage)
    monkeypatch.setenv("PGPASS", "hunter2")
    cfg = config.parse('storage: {url: "postgresql://ow:${PGPASS}@db/ow"}', "c.yaml")
    assert cfg.storage.url is not None and "hunter2" in cfg.storage.url.get_secret_value()
    assert cfg.instance == "default" and cfg.fleet.quorum == "majority"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            'storage: {url: "mysql://ow:s3cret@db/ow"}',
            "c.yaml:1: storage.url: expected a postgresql:// URL",
        ),
        (
            "fleet: {quorum: 0}",
            "c.yaml:1: fleet.quorum: expected a number of vantages (at least 1) or 'majority'",
        ),
        ("fleet: {quorum: most}", "c.yaml:1: fleet.quorum"),
    ],
)
def test_bad_fleet_settings_name_the_key(text: str, problem: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.parse(text, "c.yaml")
    assert err.value.problems[0].startswith(problem)
    assert "s3cret" not in str(err.value)


def test_check_config_never_prints_the_url(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        'storage: {url: "postgresql://ow:s3cret@db.example/outwatch"}\nfleet: {quorum: 2}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
