"""`outwatch demo` end to end: the founding day replayed against the real daemon, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEED = "6"  # about 18 s of replay

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> tuple[int, str, float, list[str]]:
    """Run the demo once; (exit status, stdout, seconds, files left in the temp dir)."""
    with tempfile.TemporaryDirectory() as scratch:
        # the demo must write nothing outside its own temporary directory: run it from an
        # empty directory with TMPDIR pointing at another, and look at both afterwards
        cwd, tmp = Path(scratch, "cwd"), Path(scratch, "tmp")
        cwd.mkdir()
        tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "demo",
                "--speed",
                SPEED,
                "--no-view",
                "--json-summary",
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
        left = [
            str(p.relative_to(scratch)) for p in Path(scratch).rglob("*") if p not in (cwd, tmp)
        ]
    if proc.returncode not in (0, 1):
        pytest.fail(f"demo exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.returncode, proc.stdout, took, left


def summary_of(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def test_story_played_out(demo: tuple[int, str, float, list[str]]) -> None:
    code, stdout, took, _ = demo
    summary = summary_of(stdout)
    assert summary["problems"] == [], stdout[-4000:]
    assert summary["ok"] is True and code == 0
    assert took < 30


def test_exact_incidents(demo: tuple[int, str, float, list[str]]) -> None:
    incidents = summary_of(demo[1])["incidents"]
    assert sorted(i["service"] for i in incidents) == ["mod", "oschadbank", "privatbank", "zsu"]
    assert all(i["confirmed"] for i in incidents)
    flagged = {i["service"] for i in incidents if "restored_claim_while_down" in i["flags"]}
    assert flagged == {"oschadbank"}


def test_one_campaign(demo: tuple[int, str, float, list[str]]) -> None:
    campaigns = summary_of(demo[1])["campaigns"]
    assert len(campaigns) == 1
    assert campaigns[0]["services"] == ["mod", "oschadbank", "privatbank", "zsu"]


def test_alerts_reached_the_webhook(demo: tuple[int, str, float, list[str]]) -> None:
    alerts = summary_of(demo[1])["alerts"]
    assert alerts["notifications"] >= 1
    assert alerts["firing"] >= 1
    assert alerts["alertnames"]


def test_console_receiver_and_log(demo: tuple[int, str, float, list[str]]) -> None:
    stdout = demo[1]
    assert "── alert to console:" in stdout  # the console receiver printed its blocks
    assert "notice dsszzi/101" in stdout
    assert re.search(r"incident INC-\d{8}-\d{3} oschadbank: flag restored_claim_while_down", stdout)
    assert "OK: the story played out" in stdout


def test_nothing_left_behind(demo: tuple[int, str, float, list[str]]) -> None:
    assert demo[3] == []
