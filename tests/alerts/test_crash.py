"""A dispatcher killed with a pending notification: the next one delivers it exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from monitor.store.db import Store
from tests.alerts.conftest import Recorder, until

ROOT = Path(__file__).resolve().parents[2]


def _child(db: Path, url: str, mode: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.crash_child", str(db), url, mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


async def test_sigkill_with_pending_notification(recorder: Recorder, tmp_path: Path) -> None:
    db = tmp_path / "outwatch.db"
    recorder.default = (503, {}, "down for maintenance")
    first = _child(db, recorder.url + "/hook", "fire")
    try:
        await until(lambda: len(recorder.hits) >= 2, within=15)
    finally:
        _kill(first)
    failed = len(recorder.hits)
    recorder.default = (200, {}, "ok")

    second = _child(db, recorder.url + "/hook", "resume")
    try:
        await until(lambda: len(recorder.hits) > failed, within=15)
        await asyncio.sleep(0.5)
    finally:
        _kill(second)
    assert len(recorder.hits) == failed + 1
    ids = {h.headers["X-Outwatch-Notification-Id"] for h in recorder.hits}
    assert len(ids) == 1  # the very notification the first process wrote

    store = Store(str(db))
    try:
        rows = store.run_sync(lambda d: list(d.query("SELECT state, attempts FROM alert_outbox")))
    finally:
        store.close()
    [row] = rows
    assert row["state"] == "delivered"
    assert 1 < row["attempts"] <= failed + 1  # attempts count across the restart

    third = _child(db, recorder.url + "/hook", "resume")  # delivered ones are not sent again
    try:
        await asyncio.sleep(1.0)
    finally:
        _kill(third)
    assert len(recorder.hits) == failed + 1
