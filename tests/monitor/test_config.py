"""Config: the example is valid; each kind of mistake is one line naming its place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import config

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "config"
INVALID = sorted(DATA.glob("invalid-*.yaml"))


def test_example_config_is_valid() -> None:
    cfg = config.load(ROOT / "config.example.yaml")
    names = [s.name for s in cfg.services]
    for name in (
        "privatbank",
        "oschadbank",
        "monobank",
        "mod",
        "zsu",
        "diia",
        "kmu",
        "mfa",
        "kyivstar",
    ):
        assert name in names
    assert {s.group for s in cfg.services} == {"bank", "government", "telecom"}
    privat = cfg.service("privatbank")
    assert privat is not None
    assert privat.checks[0].id == "http:https://privatbank.ua/"
    assert privat.checks[0].interval == 30.0
    assert privat.checks[3].cert_expiry_warning == 14 * 86400


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_config_names_the_place(path: Path) -> None:
    expected = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert any(expected in line for line in err.value.problems), err.value.problems
    for line in err.value.problems:
        assert "\n" not in line and "Traceback" not in line
        assert line.startswith(str(path))


def test_defaults_apply_and_checks_override() -> None:
    cfg = config.parse(
        """
defaults: {interval: 1m, timeout: 5s, failures_before_down: 4}
services:
  - name: a
    checks:
      - {kind: dns, name: a.example}
      - {kind: tcp, target: "a.example:25", interval: 2m, id: smtp}
"""
    )
    first, second = cfg.services[0].checks
    assert (first.interval, first.timeout, first.failures_before_down) == (60.0, 5.0, 4)
    assert (second.interval, second.id) == (120.0, "smtp")


def test_env_and_file_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hash").write_text("s3cret-hash\n")
    monkeypatch.setenv("OUTWATCH_TEST_API_ID", "12345")
    (tmp_path / "c.yaml").write_text(
        "sources:\n  telegram:\n    api_id: ${OUTWATCH_TEST_API_ID}\n    api_hash_file: hash\n    channels: [dsszzi]\n"
    )
    cfg = config.load(tmp_path / "c.yaml")
    assert cfg.sources.telegram is not None
    assert cfg.sources.telegram.api_id == 12345
    assert cfg.sources.telegram.api_hash.get_secret_value() == "s3cret-hash"
    assert "s3cret" not in repr(cfg)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("14d", 1209600), ("1h30m", 5400), ("250ms", 0.25), (10, 10)],
)
def test_durations(text: object, seconds: float) -> None:
    cfg = config.parse(f"storage: {{retention: {text}}}")
    assert cfg.storage.retention == seconds


def test_config_is_frozen() -> None:
    cfg = config.parse("vantage: x")
    with pytest.raises(Exception):
        cfg.vantage.name = "y"  # type: ignore[misc]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_check_config_command_exit_codes() -> None:
    ok = run_cli("check-config", "config.example.yaml")
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("check-config", str(DATA / "invalid-unknown-kind.yaml"))
    assert bad.returncode == 2
    assert "services[0].checks[0].kind" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("check-config", "no-such-file.yaml")
    assert missing.returncode == 2 and "cannot read config" in missing.stderr


def test_schema_command_prints_json_schema() -> None:
    out = run_cli("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert "services" in schema["properties"]


def test_only_secret_fields_are_read_from_files(tmp_path: Path) -> None:
    # ca_file is a path the probe opens, not a secret to read in: it stays as written
    cfg = config.parse(
        'services: [{name: a, checks: [{kind: http, url: "https://a.example/", ca_file: ca.pem}]}]',
        base=tmp_path,
    )
    assert cfg.services[0].checks[0].ca_file == "ca.pem"
    assert {"api_hash", "routing_key", "bot_token", "password", "secret"} <= config.secret_fields()


def test_check_config_warns_but_passes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        """services:
  - name: a
    checks:
      - {kind: dns, name: a.example, interval: 500ms, timeout: 100ms}
alerts:
  route:
    receiver: log
    routes:
      - {receiver: log, match: {service: nosuch}}
      - {receiver: log, match_re: {alertname: "service_.*"}}
      - {receiver: log, match: {alertname: sevice_down}, routes: [{receiver: log}]}
      - {receiver: log, match: {team: x}}
  receivers: [{name: log, kind: console}]
"""
    )
    out = run_cli("check-config", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        f"warning: {path}:4: services[0].checks[0].interval: "
        "interval 0.5s is under one second: is that meant?",
        f"warning: {path}:9: alerts.route.routes[0]: "
        "this route matches no alert outwatch sends: no service is 'nosuch'",
        f"warning: {path}:11: alerts.route.routes[2]: "
        "this route matches no alert outwatch sends: no alertname is 'sevice_down'",
    ]
    empty = tmp_path / "empty.yaml"
    empty.write_text("services: []\n")
    out = run_cli("check-config", str(empty))
    assert (out.returncode, out.stderr) == (
        0,
        f"warning: {empty}:1: services: no services: nothing will be probed\n",
    )


def test_tls_files_must_be_a_usable_pair(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    path = tmp_path / "c.yaml"
    path.write_text(
        f"web:\n  tls:\n    cert_path: {tmp_path / 'cert.pem'}\n    key_path: {tmp_path / 'key.pem'}\n"
    )
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    [line] = err.value.problems
    assert line.startswith(f"{path}:2: web.tls: not a usable PEM certificate and key: ")


def test_a_binary_secret_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "hash.bin").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(config.ConfigError) as err:
        config.parse(
            "sources: {telegram: {api_id: 1, api_hash_file: hash.bin, channels: [x]}}",
            "c.yaml",
            tmp_path,
        )
    assert err.value.problems == [
        f"c.yaml:1: sources.telegram.api_hash_file: cannot read {tmp_path / 'hash.bin'}: "
        "not UTF-8 text"
    ]


def test_own_channels_feeds_and_ingest_sources() -> None:
    cfg = config.parse(
        """
services:
  - {name: kyivstar, aliases: [Київстар]}
  - {name: monobank, aliases: [monobank]}
sources:
  telegram:
    api_id: 1
    api_hash: x
    channels: [dsszzi, {name: "@Kyivstar_Official", service: kyivstar}, -1001234]
  feeds: [{name: mono, url: "https://example.org/feed.xml", service: monobank}]
  ingest: {services: {ksbot: kyivstar}}
"""
    )
    assert cfg.sources.telegram is not None
    assert cfg.sources.telegram.channels == ["dsszzi", "@Kyivstar_Official", -1001234]
    assert cfg.sources.own_services() == {
        "kyivstar_official": "kyivstar",
        "mono": "monobank",
        "ksbot": "kyivstar",
    }
