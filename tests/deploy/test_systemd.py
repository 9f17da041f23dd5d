"""The systemd unit is hardened and passes `systemd-analyze verify` where systemd-analyze works."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY

UNIT = DEPLOY / "systemd" / "outwatch.service"
BINARY = "/usr/local/bin/outwatch"


def _directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "outwatch"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("Restart", "on-failure"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("ExecStart", f"{BINARY} run -c /etc/outwatch/config.yaml"),
    ],
)
def test_hardening_directive(key: str, value: str) -> None:
    assert value in _directives().get(key, []), f"{key}={value} missing"


def _install_line(dest: str) -> list[str]:
    """The `install` command of the unit's header comment that puts a file at `dest`."""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        words = line.lstrip("# ").split()
        if words[:1] == ["install"] and words[-1] == dest:
            return words
    raise AssertionError(f"no install line for {dest}")


def _option(words: list[str], flag: str, default: str) -> str:
    return words[words.index(flag) + 1] if flag in words else default


def test_the_config_as_installed_is_readable_by_the_service_and_no_one_else() -> None:
    # DynamicUser: the service's user owns nothing under /etc, so it reads through a group
    words = _install_line("/etc/outwatch/config.yaml")
    mode = int(_option(words, "-m", "0755"), 8)
    owner, group = _option(words, "-o", "root"), _option(words, "-g", "root")
    groups = set(_directives().get("SupplementaryGroups", [""])[0].split())
    groups |= set(_directives().get("Group", []))
    assert owner == "root"
    assert group != "root" and group in groups, f"group {group} is not the service's"
    assert mode & 0o040, "the group cannot read it"
    assert mode & 0o007 == 0, "other users can read it"
    header = UNIT.read_text(encoding="utf-8").split("[Unit]")[0]
    assert f"groupadd --system {group}" in header


def _analyze() -> str:
    # "if available": absent systemd-analyze is a skip even in CI (minimal containers lack it)
    path = shutil.which("systemd-analyze")
    if not path:
        pytest.skip("systemd-analyze is not installed")
    return path


def _runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a stand-in, since verify checks that the binary exists."""
    stand_in = tmp_path / "outwatch"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "outwatch.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(BINARY, str(stand_in)))
    return unit


def _works_here(analyze: str, tmp_path: Path) -> None:
    probe = tmp_path / "probe" / "trivial.service"
    probe.parent.mkdir()
    probe.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    out = subprocess.run(
        [analyze, "verify", str(probe)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0 or out.stderr.strip():
        pytest.skip(f"systemd-analyze verify does not work here: {out.stderr.strip()[:200]}")


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _analyze()
    _works_here(analyze, tmp_path)
    unit = _runnable_copy(tmp_path)
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr


def test_exposure_is_low(tmp_path: Path) -> None:
    analyze = _analyze()
    unit = _runnable_copy(tmp_path)
    out = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout)
    if out.returncode != 0 or not found:
        pytest.skip(f"systemd-analyze security --offline does not work here: {out.stderr[:200]}")
    assert float(found[1]) <= 2.0, out.stdout
