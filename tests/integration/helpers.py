"""Helpers for tests that run the real daemon as a subprocess against loopback servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


class Target:
    """A loopback HTTP site whose behaviour a test switches: ok, 503, or not listening at all."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mode = "ok"
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        if self.mode == "503":
            return web.Response(status=503, text="Service Unavailable")
        return web.Response(text="<html><title>bank</title>ok</html>", content_type="text/html")

    async def start(self) -> None:
        """Listen (again)."""
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        """Stop listening: connections are refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class DaemonProcess:
    """`python -m monitor run -c CONFIG` as a subprocess, with its log kept for assertions."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log_path = config, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        """Start the daemon."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(self.config), *extra],
            cwd=self.config.parent,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the daemon and wait for its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            self._log.close()

    def log(self) -> str:
        """What the daemon has written so far."""
        return self.log_path.read_text(errors="replace")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        """GET a path; JSON decoded when the answer is JSON."""
        async with aiohttp.ClientSession() as s, s.get(self.base + path, **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Until /readyz answers 200 (fails with the daemon's log if it never does)."""

        async def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                status, _ = await self.get("/readyz")
            except aiohttp.ClientError:
                return False
            return status == 200

        await wait_for(ready, timeout, f"daemon not ready:\n{self.log()}")

    async def service(self, name: str) -> dict[str, Any]:
        """The service's entry in /api/v1/services."""
        _, body = await self.get("/api/v1/services")
        return next(s for s in body["services"] if s["name"] == name)


async def wait_for(cond: Callable[[], Awaitable[bool]], timeout: float, message: str = "") -> float:
    """Poll `cond` until true; returns the seconds it took; fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await cond():
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(message or "condition not met in time")
