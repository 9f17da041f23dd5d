"""`outwatch demo`: the founding day replayed live against the real daemon, on loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from rich.console import Console
from rich.live import Live

from monitor import config as config_mod
from monitor.core.base import Message
from monitor.demo import settings, summary, timeline, view
from monitor.demo.sites import SiteFarm, WebhookSink
from monitor.runtime.daemon import Daemon
from monitor.sources.export import load_export

log = logging.getLogger("outwatch.demo")
API = ("services", "incidents", "campaigns", "announcements")
POLL_EVERY = 0.25  # seconds between looks at the API: the view, and the record for the summary
SYNC_EVERY = 0.02  # how often the sites' listeners are brought in line with the timeline


@dataclass(frozen=True)
class Options:
    """What the command line chose."""

    speed: float = 1.0
    keep_running: bool = False
    view: bool = True
    json_summary: bool = False


def export_path() -> Path:
    """The notices of the day, shipped inside the package as a Telegram Desktop export."""
    return Path(str(resources.files("monitor") / "data" / "demo_export.json"))


def schedule(messages: list[Message], speed: float) -> list[tuple[float, Message]]:
    """(seconds into the replay, message) for each notice, in order."""
    return sorted(
        ((timeline.story_seconds(m.published_at, speed), m) for m in messages),
        key=lambda p: p[0],
    )


class Replay:
    """Owns the sites, the webhook, the daemon and the replay's tasks for one run."""

    def __init__(self, opts: Options, workdir: Path) -> None:
        self.opts = opts
        self.workdir = workdir
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.origin = datetime.now(UTC)
        self.sites = SiteFarm(self.mode, timeline.scaled(settings.HANG, opts.speed))
        self.webhook = WebhookSink()
        self.daemon: Daemon | None = None
        self.notices: list[summary.Notice] = []
        self.record = summary.Record()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    def elapsed(self) -> float:
        """Seconds since the replay began."""
        return self.loop.time() - self.t0

    def mode(self, site: str) -> timeline.Mode:
        """How `site` answers now."""
        return timeline.mode_at(site, self.elapsed(), self.opts.speed)

    @property
    def base_url(self) -> str:
        """The daemon's web address."""
        port = self.daemon.listen_port if self.daemon else 0
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        """Sites and webhook first, then the daemon on a config pointing at them."""
        await self.sites.start()
        await self.webhook.start()
        text = settings.config_text(
            self.sites.urls(),
            self.webhook.url,
            str(self.workdir / "outwatch.db"),
            self.opts.speed,
        )
        (self.workdir / "config.yaml").write_text(text, encoding="utf-8")
        cfg = config_mod.parse(text, "demo config")
        self.daemon = Daemon(cfg, str(self.workdir / "config.yaml"))
        await self.daemon.start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self.t0 = self.loop.time()  # the day begins once everything listens
        self.origin = datetime.now(UTC)
        messages = load_export(export_path(), settings.SOURCE)
        self._tasks.append(asyncio.create_task(self._sync_loop(), name="demo-sites"))
        self._tasks.append(asyncio.create_task(self._feed(messages), name="demo-notices"))

    async def stop(self) -> None:
        """Tasks, daemon, HTTP client, webhook, sites: in reverse of start."""
        for task in reversed(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.daemon is not None:
            await self.daemon.stop(grace=1.0)
        if self._http is not None:
            await self._http.close()
        await self.webhook.stop()
        await self.sites.stop()

    async def _sync_loop(self) -> None:
        while True:
            await self.sites.sync()
            await asyncio.sleep(SYNC_EVERY)

    async def _feed(self, messages: list[Message]) -> None:
        """Each notice into the daemon at its moment, published now (the correlator's windows are real time)."""
        assert self.daemon is not None
        for at, msg in schedule(messages, self.opts.speed):
            await asyncio.sleep(max(0.0, at - self.elapsed()))
            self.notices.append(
                summary.Notice(f"{msg.source}/{msg.id}", msg.published_at, msg.text)
            )
            await self.daemon.ingest(replace(msg, published_at=datetime.now(UTC)))

    async def snapshot(self) -> summary.Snapshot:
        """What the API and the webhook show now."""
        elapsed = self.elapsed()
        bodies = await asyncio.gather(*(self._get(f"/api/v1/{name}") for name in API))
        data = {name: _items(body, name) for name, body in zip(API, bodies, strict=True)}
        snap = summary.Snapshot(
            elapsed=elapsed,
            day=timeline.day_time(elapsed, self.opts.speed),
            services=data["services"],
            incidents=data["incidents"],
            campaigns=data["campaigns"],
            announcements=data["announcements"],
            notices=list(self.notices),
            deliveries=list(self.webhook.received),
            origin=self.origin,
            speed=self.opts.speed,
        )
        self.record.add(snap)
        return snap

    async def _get(self, path: str) -> Any:
        assert self._http is not None
        try:
            async with self._http.get(self.base_url + path) as resp:
                if resp.status != 200:
                    return None
                return await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    """The list in an API answer, whether bare or under its name."""
    if isinstance(body, dict):
        body = body.get(key)
    return [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []


async def _play(replay: Replay, out: TextIO) -> None:
    """Until the day is over: draw the live view, or log what changed."""
    end = timeline.length(replay.opts.speed)
    if replay.opts.view:
        console = Console(file=out)
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while replay.elapsed() < end:
                live.update(view.render(await replay.snapshot()))
                await asyncio.sleep(POLL_EVERY)
            live.update(view.render(await replay.snapshot()))
        return
    prev: summary.Snapshot | None = None
    while replay.elapsed() < end:
        snap = await replay.snapshot()
        for line in view.log_lines(prev, snap):
            print(line, file=out, flush=True)
        prev = snap
        await asyncio.sleep(POLL_EVERY)
    for line in view.log_lines(prev, await replay.snapshot()):
        print(line, file=out, flush=True)


class _OneLine(logging.Formatter):
    """Errors as one line each, without tracebacks: the demo's view and summary tell the story."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"


def _quiet_logs() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(_OneLine())
    logging.getLogger().addHandler(handler)
    logging.getLogger("outwatch").setLevel(logging.ERROR)


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run(opts: Options, out: TextIO) -> int:
    """Play the day; print the summary; 0 when the story played out as expected."""
    _quiet_logs()
    with tempfile.TemporaryDirectory(prefix="outwatch-demo-") as tmp:
        replay = Replay(opts, Path(tmp))
        try:
            await replay.start()
            print(
                f"outwatch demo: 15 February 2022 replayed in about "
                f"{timeline.length(opts.speed):.0f}s; daemon at {replay.base_url}/",
                file=out,
                flush=True,
            )
            await _play(replay, out)
            result = summary.summarise(replay.record, replay.webhook.received)
            for line in summary.text(result):
                print(line, file=out)
            if opts.json_summary:
                print(json.dumps(result.as_json(), ensure_ascii=False), file=out)
            out.flush()
            if opts.keep_running:
                _print_urls(replay.base_url, out)
                await _until_interrupted()
            return 0 if result.ok else 1
        finally:
            with contextlib.suppress(Exception):
                await replay.stop()


def _print_urls(base: str, out: TextIO) -> None:
    print("", file=out)
    print("Still running; Ctrl-C to stop. Explore:", file=out)
    for path, what in (
        ("/", "status page"),
        ("/metrics", "Prometheus metrics"),
        ("/api/v1/incidents", "incidents"),
        ("/api/v1/campaigns", "campaigns"),
        ("/api/v1/alerts", "alerts"),
    ):
        print(f"  {base}{path:<20} {what}", file=out)
    out.flush()


def main(opts: Options) -> int:
    """Run the demo on a fresh event loop."""
    return asyncio.run(run(opts, sys.stdout))
