"""A hostile config under a running daemon: a YAML bomb under --watch-config, a reload stuck
reading the file; neither grows the process nor keeps it alive after SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.conftest import free_port
from tests.integration.helpers import DaemonProcess, Target, wait_for

BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def write_config(tmp: Path, port: int, url: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"""storage: {{path: ./ow.db}}
web: {{listen: "127.0.0.1:{port}"}}
services:
  - {{name: privatbank, checks: [{{kind: http, url: "{url}", interval: 1s, timeout: 500ms}}]}}
"""
    )
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_a_yaml_bomb_under_watch_config_is_refused(tmp_path: Path, target: Target) -> None:
    port = free_port()
    path = write_config(tmp_path, port, target.url)
    daemon = DaemonProcess(path, port, tmp_path / "log")
    daemon.start("--watch-config")
    try:
        await daemon.wait_ready()
        assert daemon.proc is not None
        before = rss_mb(daemon.proc.pid)
        path.write_text(BOMB)

        async def refused() -> bool:
            return "aliases expand to more than" in daemon.log()

        await wait_for(refused, 10, f"bomb not refused:\n{daemon.log()}")
        assert rss_mb(daemon.proc.pid) < before + 50
        assert daemon.stop(timeout=10) == 0
    finally:
        daemon.kill()
    lines = [ln for ln in daemon.log().splitlines() if "aliases expand" in ln]
    assert lines and all("config.yaml:1:" in ln for ln in lines)


async def test_a_stuck_reload_does_not_keep_the_process_alive(
    tmp_path: Path, target: Target
) -> None:
    port = free_port()
    path = write_config(tmp_path, port, target.url)
    daemon = DaemonProcess(path, port, tmp_path / "log")
    daemon.start()
    try:
        await daemon.wait_ready()
        assert daemon.proc is not None
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        fifo.replace(path)  # opening it for reading blocks until a writer comes: none will
        daemon.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # let the reload get stuck in open()
        assert daemon.stop(timeout=10) == 0  # before: the reload thread held it open
    finally:
        daemon.kill()


async def test_a_failed_start_leaves_no_unclosed_session(tmp_path: Path, target: Target) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        daemon = DaemonProcess(write_config(tmp_path, port, target.url), port, tmp_path / "log")
        daemon.start()
        assert daemon.proc is not None
        daemon.proc.wait(30)
        assert daemon.stop() == 1
    finally:
        taken.close()
    log = daemon.log()
    assert "cannot start" in log and "address already in use" in log
    assert "Unclosed" not in log and "Traceback" not in log
