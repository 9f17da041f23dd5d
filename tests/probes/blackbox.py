"""A real blackbox_exporter (Debian's binary) on a free loopback port, with modules written by the test."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, require_binary

Series = dict[str, dict[frozenset[tuple[str, str]], float]]  # family -> labels -> value


def parse(text: str, drop: frozenset[str] = frozenset(), **match: str) -> Series:
    """Text exposition to {family: {labels: value}}, keeping samples whose labels match `match`
    and leaving out the label names in `drop`."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in match.items()):
                continue
            labels = frozenset((k, v) for k, v in sample.labels.items() if k not in drop)
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


class Blackbox:
    """blackbox_exporter with the given modules; `await probe(target, module)` asks it once."""

    def __init__(self, tmp: Path, modules: dict[str, Any]) -> None:
        self.tmp = tmp
        self.modules = modules
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Blackbox:
        binary = require_binary("prometheus-blackbox-exporter")
        config = self.tmp / "blackbox.yml"
        config.write_text(yaml.safe_dump({"modules": self.modules}))
        self._log = (self.tmp / "blackbox.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        for _ in range(100):  # ready within a second or so
            try:
                async with self.session.get(f"{self.base}/-/healthy") as resp:
                    if resp.status == 200:
                        return self
            except aiohttp.ClientConnectionError:
                pass
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        await self.__aexit__()
        raise RuntimeError(f"blackbox_exporter did not start: {self.log()}")

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
        self._log.close()

    def log(self) -> str:
        """What the exporter printed (for a failing test's message)."""
        return (self.tmp / "blackbox.log").read_text(errors="replace")[-2000:]

    async def probe(self, target: str, module: str) -> Series:
        """One probe through /probe, as a Prometheus blackbox scrape job asks for it."""
        params = {"target": target, "module": module}
        async with self.session.get(f"{self.base}/probe", params=params) as resp:
            assert resp.status == 200, await resp.text()
            return parse(await resp.text())
