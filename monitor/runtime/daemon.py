"""The daemon: owns the store, scheduler, web server and background tasks; wires the stages together."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from alerts.api import silence_routes
from alerts.dispatcher import MAX_SLEEP, Dispatcher
from monitor import config as config_mod
from monitor import logs
from monitor.config import Config, ConfigError
from monitor.core.alertrules import CampaignPins, alerts_for
from monitor.core.base import ANNOUNCEMENT_KINDS, Clock, Message, SystemClock
from monitor.core.classify.classifier import Classifier
from monitor.core.engine import CANARY_SERVICE
from monitor.core.state import Event, OutageClosed, OutageOpened, ServiceChanged
from monitor.runtime.decisions import Decisions
from monitor.runtime.facts import FactsMemo, SourceTracker, alert_inputs
from monitor.runtime.pipeline import Pipeline
from monitor.runtime.runner import run_check
from monitor.runtime.scheduler import ProbeScheduler, Scheduled, in_shard
from monitor.runtime.supervise import Supervisor, stall_limit
from monitor.runtime.threads import in_daemon_thread
from monitor.sources.base import Source, SourceHealth, recording_sink
from monitor.sources.ingest import PREFIX as INGEST_PREFIX
from monitor.sources.ingest import IngestEndpoint
from monitor.sources.registry import sources_from_config
from monitor.store import db as store
from monitor.store import incidents as incident_store
from monitor.store.announcements import AnnouncementStore
from monitor.store.announcements import Change as AnnouncementChange
from monitor.store.channels import ChannelStore
from monitor.web.api import WARM_EVERY, Api
from monitor.web.base import Snapshot
from monitor.web.fleet import fleet_routes
from monitor.web.probe import OnDemand
from monitor.web.probe import handler as probe_handler
from monitor.web.server import make_app, split_listen, ssl_context
from probes.base import ProbeContext

if TYPE_CHECKING:  # imported when storage.url is set: psycopg is ~20 MB
    from monitor.runtime.fleet import Fleet

log = logging.getLogger("outwatch.daemon")
FLUSH_EVERY = 1.0
SNAPSHOT_EVERY = 10.0
PRUNE_EVERY = 300.0
WATCH_EVERY = 2.0
# what a reload cannot change in a running process; everything else applies at once
RESTART_ONLY = ("storage", "web")
LIVE_ON_RELOAD = frozenset({"web.external_url"})
YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def scheduled_checks(cfg: Config) -> list[Scheduled]:
    """The checks this instance probes (its shard of them, when sharded)."""
    items = [Scheduled(s.name, c) for s in cfg.services for c in s.checks]
    if cfg.shard is not None:
        items = [i for i in items if in_shard(i.key, cfg.shard.index, cfg.shard.total)]
    # every instance probes its own canaries: they tell whether this vantage itself is offline
    return [Scheduled(CANARY_SERVICE, c, first=True) for c in cfg.vantage.canaries] + items


class Daemon:
    """Starts everything in order, stops it in reverse, and reloads config whole."""

    def __init__(self, cfg: Config, path: str | None = None, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.path = path
        self.clock: Clock = clock or SystemClock()
        self.vantage = cfg.vantage.name
        self.listen_port: int | None = None
        self.store = store.Store(cfg.storage.path, cfg.storage.busy_timeout)
        self.pipeline = Pipeline.from_config(cfg.services)
        self.decisions = Decisions(cfg, self.pipeline.machine)
        self.boosted: set[str] = set()
        self.classifier = Classifier.from_services(cfg.services)
        self._own = cfg.sources.own_services()  # source name -> the service it belongs to
        self.announcements = AnnouncementStore(self.store, self.clock)
        self.channels = ChannelStore(self.store, self.clock)
        self.sink = recording_sink(self.announcements, self._classify, self._announced)
        self.sources: list[Source] = []
        self.ingest_health = SourceHealth("ingest", "ingest")
        self.ingest_endpoint = IngestEndpoint(
            cfg.sources.ingest, self.sink, self.ingest_health, self.clock
        )
        self.announcement_counts: Counter[tuple[str, str]] = Counter()
        self.links: dict[str, str] = {}  # announcement key -> URL, for alert annotations
        self.dispatcher = Dispatcher(
            cfg.alerts,
            self.store,
            clock=self.clock,
            vantage=self.vantage,
            external_url=self.external_url,
        )
        self.source_tracker = SourceTracker()
        self.facts = FactsMemo()
        self.pins = CampaignPins()
        self.ctx = ProbeContext()
        self.scheduler = ProbeScheduler(self._probe, cfg.scheduler.max_concurrency)
        self.reload_ok = True
        self.reload_at = self.clock.now()
        self.store_up = True
        self.store_errors = 0
        self.started = False
        self.supervisor = Supervisor(self.clock)  # owns every long-lived loop
        self.restart_required: tuple[str, ...] = ()
        self._started_cfg = cfg  # what the process runs with for the restart-only settings
        self._last_snapshot = self._last_prune = self.clock.monotonic()
        self._config_mtime: float | None = None
        self._runner: web.AppRunner | None = None
        # fleet: with storage.url, decisions are shared in PostgreSQL (runtime/fleet.py)
        self.fleet: Fleet | None = None
        if cfg.storage.url:
            from monitor.runtime.fleet import Fleet

            self.fleet = Fleet(cfg, self.clock, self.pipeline.machine, self.dispatcher)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def external_url(self) -> str:
        """Where people reach this instance (web.external_url, else the listen address)."""
        if self.cfg.web.external_url:
            return self.cfg.web.external_url.rstrip("/")
        scheme = "https" if self.cfg.web.tls else "http"
        host, port = split_listen(self.cfg.web.listen)
        return f"{scheme}://{host}:{self.listen_port or port}"

    async def start(self) -> None:
        """Restore state, start alerting, probing, the web server, sources and background tasks."""
        await self._restore()
        await self.dispatcher.start()
        for task, beat in self.dispatcher.loops():
            self.supervisor.watch(task.get_name(), task, beat, stall_limit(MAX_SLEEP))
        self.scheduler.apply(scheduled_checks(self.cfg))
        self.scheduler.start()
        if self.fleet is not None:
            self.fleet.start()
        await self._start_web()
        self._start_sources()
        self._last_snapshot = self._last_prune = self.clock.monotonic()
        self.supervisor.every("store-flush", self._flush_step, FLUSH_EVERY)
        self.supervisor.every("alerts-evaluate", self._evaluate_alerts, FLUSH_EVERY)
        settle_heap()
        self.started = True
        log.info(
            "started: vantage %s, %d services, %d checks scheduled, %d sources, listening on %s",
            self.vantage,
            len(self.cfg.services),
            len(self.scheduler.keys()),
            len(self.sources),
            self.cfg.web.listen,
        )

    def watch_config(self) -> None:
        """Reload whenever the config file changes (checked every WATCH_EVERY seconds)."""
        if self.path is not None:
            self._config_mtime = _mtime(Path(self.path))
            self.supervisor.every("config-watch", self._watch_step, WATCH_EVERY)

    async def _watch_step(self) -> None:
        assert self.path is not None
        mtime = _mtime(Path(self.path))
        if mtime is not None and mtime != self._config_mtime:
            self._config_mtime = mtime
            await self.reload()

    def _start_sources(self) -> None:
        self.sources = sources_from_config(self.cfg.sources, self.sink, self.channels, self.clock)
        for src in self.sources:
            self.supervisor.keep(_loop_name(src), src.run)

    async def _stop_sources(self) -> None:
        await self.supervisor.stop([_loop_name(src) for src in self.sources])

    async def _start_web(self) -> None:
        routes = [
            *self.ingest_endpoint.routes(),
            # in a fleet the decider's alerts, shared through the database, on every instance
            *silence_routes(self.dispatcher, self.fleet.alerts if self.fleet is not None else None),
            *(fleet_routes(self.fleet.read) if self.fleet is not None else []),
        ]
        ondemand = OnDemand(
            lambda check: run_check(check, self.ctx),
            lambda: self.cfg.probe_modules,
            self.vantage,
        )
        routes.append(web.get("/probe", probe_handler(ondemand)))
        fleet_read = self.fleet.read if self.fleet is not None else None
        api = Api(
            self.snapshot,
            self.reload,
            self.store,
            self.announcements,
            ondemand=ondemand,
            fleet=fleet_read,
        )
        # each check's /metrics lines written within WARM_EVERY of its result, so a scrape writes
        # only the last seconds' results and joins the rest
        self.supervisor.every("metrics-warm", api.metrics_warm, WARM_EVERY)
        app = make_app(self.cfg.web, api, routes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = split_listen(self.cfg.web.listen)
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context(self.cfg.web))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.listen_port = sockets[0].getsockname()[1] if sockets else port
        self.dispatcher.external_url = self.external_url

    async def stop(self, grace: float = 5.0) -> None:
        """Stop scheduling, let in-flight probes finish within `grace`, flush, close."""
        self.started = False
        await self._stop_sources()
        await self.scheduler.stop(grace)
        await self.dispatcher.stop()
        if self.fleet is not None:
            await self.fleet.stop()
        await self.supervisor.stop()
        await self._flush(final=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.to_thread(self.store.close)
        log.info("stopped")

    def snapshot(self) -> Snapshot:
        """What the read side shows now (built per request, scrape or alert evaluation)."""
        d, healths = self.decisions, self._healths()
        return Snapshot(
            vantage=self.vantage,
            now=self.clock.now(),
            started=self.started,
            services=self.cfg.services,
            probes=self.pipeline.snapshot(),
            intervals=self.scheduler.intervals(),
            boosted=frozenset(self.boosted),
            store_up=self.store_up,
            store_errors=self.store_errors,
            reload_ok=self.reload_ok,
            reload_at=self.reload_at,
            skipped=self.scheduler.skipped,
            lateness=self.scheduler.lateness,
            open_incidents=d.engine.open_incidents(),
            open_campaigns=d.engine.open_campaigns(),
            offline_since=d.offline_since,
            announcement_lag=d.lag,
            sources=healths,
            ingest=self.ingest_health,
            announcement_counts=self._announcement_counts(healths),
            delivery=self.dispatcher.stats,
            loops=self.supervisor.health(),
            restart_required=self.restart_required,
            fleet=self.fleet.snapshot() if self.fleet is not None else None,
        )

    def _healths(self) -> list[SourceHealth]:
        """Each long-running source's health, per channel where it watches several."""
        return [h for src in self.sources for h in src.healths()]

    def _announcement_counts(self, healths: list[SourceHealth]) -> dict[tuple[str, str], int]:
        """Every configured source and kind, 0 until its first notice, so increase() sees it.

        A Telegram account's own health has no notices of its own; its zero rows are harmless.
        Ingest sources are named by the client, so they cannot be known before they send.
        """
        zeros = {(h.name, k): 0 for h in healths for k in ANNOUNCEMENT_KINDS}
        return zeros | dict(self.announcement_counts)

    # -- probing ---------------------------------------------------------------------------

    async def _probe(self, item: Scheduled, scheduled: datetime) -> None:
        result = await run_check(item.check, self.ctx)
        obs, events = self.pipeline.record(
            item.service,
            item.check.id,
            item.check.kind,
            result,
            self.clock.now(),
            self.clock.monotonic(),
        )
        self._log_events(events)
        self.decisions.result(obs, events)
        if self.fleet is not None:
            self.fleet.observe(obs, events)

    async def ingest(self, message: Message) -> None:
        """The sink every source uses: classify, store, correlate."""
        await self.sink(message)

    def _classify(self, message: Message) -> Any:
        # a notice on a service's own channel (feed, ingest source) that names none is about it
        return self.classifier.classify(message.text, self._owner(message.source))

    def _owner(self, source: str) -> str | None:
        own = self.cfg.sources.ingest.services if source.startswith(INGEST_PREFIX) else None
        if own is not None:
            return own.get(source.removeprefix(INGEST_PREFIX))
        return self._own.get(source)

    async def _announced(self, change: AnnouncementChange) -> None:
        ann = change.announcement
        if change.kind == "new":
            self.announcement_counts[(ann.message.source, ann.kind)] += 1
        if ann.message.url:
            self.links[ann.key] = ann.message.url
        if change.kind in ("new", "edited") and not ann.message.deleted:
            self.decisions.announcement(ann, self.clock.now())
        if self.fleet is not None:
            self.fleet.announcement(ann)
        log.info(
            "announcement %s: %s %s",
            change.kind,
            ann.kind,
            ",".join(ann.services) or "-",
            extra={"source": ann.message.source},
        )

    def _log_events(self, events: Iterable[Event]) -> None:
        for ev in events:
            if isinstance(ev, ServiceChanged):
                log.info("service %s -> %s", ev.old, ev.new, extra={"service": ev.service})
            elif isinstance(ev, OutageOpened):
                o = ev.outage
                log.warning(
                    "outage opened (started %s, failing: %s)",
                    o.started_at.isoformat(),
                    ", ".join(o.failing_checks) or "-",
                    extra={"service": o.service},
                )
            elif isinstance(ev, OutageClosed):
                log.info("outage closed", extra={"service": ev.outage.service})

    # -- storage ---------------------------------------------------------------------------

    async def _restore(self) -> None:
        try:
            snap = await self.store.run(lambda db: store.get_state(db, "machine"))
        except store.StoreError as exc:
            self._store_failed(exc)
            return
        if snap:
            self.pipeline.machine.restore(snap)
            self.pipeline.reindex()
            log.info("restored state of %d services", len(snap))
        corr = self.decisions.correlator
        try:
            await self.announcements.ensure_schema()
            await self.channels.ensure_schema()
            if await self.store.run(lambda db: incident_store.load_snapshot(db, corr)):
                log.info("restored %d incidents", len(corr.incidents()))
            since = self.clock.now() - timedelta(seconds=self.cfg.correlation.window_after * 2)
            for ann in await self.announcements.load(since):
                if ann.message.url:
                    self.links[ann.key] = ann.message.url
        except store.StoreError as exc:
            self._store_failed(exc)

    async def _flush_step(self) -> None:
        """One round of the flush loop: time-based decisions, then write, then prune when due."""
        self._tick()
        now = self.clock.monotonic()
        snapshot = now - self._last_snapshot >= SNAPSHOT_EVERY
        if await self._flush(snapshot=snapshot) and snapshot:
            self._last_snapshot = now
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            await self._prune()

    async def _flush(self, snapshot: bool = True, final: bool = False) -> bool:
        results, outages = self.pipeline.take_pending()
        changes = self.decisions.take_pending()
        # the machine snapshot goes with any outage change so a restart never loses an open outage;
        # after a store failure both snapshots go again (the file may be a new, empty one)
        again = not self.store_up
        machine = self.pipeline.machine
        snap = machine.snapshot_json() if (snapshot or outages or final or again) else None
        # both snapshots are taken here on the loop: the store thread must not read live state
        # that probes keep changing (a torn snapshot, or a "changed size during iteration")
        corr = (
            self.decisions.correlator.snapshot()
            if (changes or self.decisions.dirty or final or again)
            else None
        )

        def write(db: Any) -> None:
            store.insert_results(db, results)
            for o in outages:
                store.upsert_outage(db, o)
            if snap is not None:
                store.put_state_text(db, "machine", snap)
            incident_store.apply_changes(db, changes)
            if corr is not None:
                store.put_state(db, incident_store.SNAPSHOT_KEY, corr)

        try:
            await self.store.run(write)
        except store.StoreError as exc:
            self.pipeline.give_back(results, outages)
            self.decisions.pending[:0] = changes
            self._store_failed(exc)
            return False
        if corr is not None:
            self.decisions.dirty = False
        if not self.store_up:
            log.info("store is writable again")
        self.store_up = True
        return True

    def _tick(self) -> None:
        now = self.clock.now()
        self.decisions.tick(now)
        self.source_tracker.observe(self._healths(), now)
        boosts = set(self.decisions.correlator.boosts(now))
        if boosts == self.boosted:
            return
        interval = self.cfg.correlation.boost_interval
        for svc in self.cfg.services:
            if (svc.name in boosts) == (svc.name in self.boosted):
                continue
            for c in svc.checks:
                want = min(interval, c.interval) if svc.name in boosts else c.interval
                self.scheduler.set_interval(f"{svc.name}/{c.id}", want)
            log.info("boost %s", "on" if svc.name in boosts else "off", extra={"service": svc.name})
        self.boosted = boosts

    async def _evaluate_alerts(self) -> None:
        try:
            inputs = alert_inputs(
                self.snapshot(),
                self.external_url,
                self.links,
                self.source_tracker.down_since,
                self.facts,
            )
            if self.fleet is not None:  # in a fleet the decider alone evaluates and sends
                self.fleet.vantage_offline(self.decisions.offline_since)
                self.fleet.local_facts(inputs.sources, inputs.certs)
                return
            await self.dispatcher.update(self.pins.apply(alerts_for(inputs)))
        except store.StoreError as exc:
            self._store_failed(exc)

    async def _prune(self) -> None:
        now, st = self.clock.now(), self.cfg.storage
        passes = [(now - timedelta(seconds=st.retention), False)]
        if st.success_retention < st.retention:
            passes.append((now - timedelta(seconds=st.success_retention), True))
        try:
            for before, only_ok in passes:
                # small batches, so the flusher's writes interleave with the deletes
                deleted = -1
                while deleted != 0:
                    deleted = await self.store.run(
                        functools.partial(store.prune_results, before=before, only_ok=only_ok)
                    )
        except store.StoreError as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: Exception) -> None:
        self.store_errors += 1
        if self.store_up:
            log.error("store unavailable, keeping state in memory: %s", exc)
        self.store_up = False

    # -- reload ----------------------------------------------------------------------------

    async def reload(self) -> tuple[bool, str]:
        """Load the config file again; apply it whole or keep the old one."""
        if self.path is None:
            return False, "no config file to reload"
        try:
            path = self.path
            new = await in_daemon_thread(lambda: config_mod.load(path), "outwatch-reload")
        except ConfigError as exc:
            self.reload_ok = False
            for line in exc.problems:
                log.error("reload rejected: %s", line)
            return False, "; ".join(exc.problems)
        await self.apply(new)
        return True, "reloaded"

    async def apply(self, new: Config) -> None:
        """Swap in a validated config whole; unchanged checks keep their state and schedule.
        Settings only a restart can change are named in one log line and a metric."""
        now = self.clock.now()
        restart = restart_only_changes(self._started_cfg, new)
        if restart and restart != self.restart_required:
            log.warning("reload: takes effect after a restart: %s", ", ".join(restart))
        self.restart_required = restart
        self._log_events(self.pipeline.reconfigure(new.services, now))
        self.decisions.reconfigure(new, now)
        if self.fleet is not None:
            self.fleet.reconfigure(new)
        self.classifier = Classifier.from_services(new.services)
        self._own = new.sources.own_services()
        self.vantage = self.dispatcher.vantage = new.vantage.name
        await self.dispatcher.reload(new.alerts)
        self.scheduler.set_max_concurrency(new.scheduler.max_concurrency)
        added, removed, changed = self.scheduler.apply(scheduled_checks(new))
        self.boosted = set()  # re-applied on the next tick against the new intervals
        self.ingest_endpoint.reconfigure(new.sources.ingest)
        # the long-running sources restart only when their own settings changed
        old_src, new_src = self.cfg.sources, new.sources
        sources_changed = (old_src.telegram, old_src.feeds) != (new_src.telegram, new_src.feeds)
        self.cfg = new
        if sources_changed:
            await self._stop_sources()
            self._start_sources()
        self.reload_ok = True
        self.reload_at = self.clock.now()
        settle_heap(reload=True)
        log.info(
            "config reloaded: %d checks added, %d removed, %d changed", added, removed, changed
        )


def settle_heap(reload: bool = False) -> None:
    """Keep what lives as long as the config out of the cyclic collector's passes.

    The config, classifier dictionaries and scheduled checks (~230,000 objects at 10,000
    checks) never become garbage until a reload; frozen, a full pass no longer walks them.
    After a reload the old config's objects are unfrozen and collected first, so a cycle in
    them is freed rather than frozen for good. The young generation's threshold is raised:
    at 10,000 checks the default 700 allocations meant ~12 young passes a second, each ~0.4 ms
    of mostly live objects, and a full pass (~100 ms) every ~10 s, while almost nothing they
    found was garbage (reference counting frees the rest).
    """
    if reload:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    _, young_to_old, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, young_to_old, old)


def restart_only_changes(running: Config, new: Config) -> tuple[str, ...]:
    """Settings `new` changes that the running process cannot apply (e.g. `web.listen`)."""
    out = []
    for section in RESTART_ONLY:
        old_part, new_part = getattr(running, section), getattr(new, section)
        for name in type(old_part).model_fields:
            key = f"{section}.{name}"
            if key not in LIVE_ON_RELOAD and getattr(old_part, name) != getattr(new_part, name):
                out.append(key)
    return tuple(out)


def _loop_name(src: Source) -> str:
    return f"source-{src.health.kind}-{src.name}"


# -- process -----------------------------------------------------------------------------------


async def serve(daemon: Daemon, watch_config: bool = False) -> int:
    """Run until SIGTERM/SIGINT (graceful; a second one exits at once); SIGHUP reloads."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_stop() -> None:
        if stop.is_set():
            log.warning("second signal: exiting now")
            os._exit(130)
        log.info("signal received: shutting down")
        stop.set()

    reloads: set[asyncio.Task[tuple[bool, str]]] = set()

    def on_hup() -> None:
        task = loop.create_task(daemon.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await daemon.start()
    except BaseException:
        # close what did start (sessions, store, threads): a failed start leaves no noise
        await daemon.stop(grace=0)
        raise
    try:
        if watch_config:
            daemon.watch_config()  # a loop the daemon owns: stop() ends it like the others
        await stop.wait()
    finally:
        for task in list(reloads):  # a reload stuck reading the file must not delay the stop
            task.cancel()
        await daemon.stop()
    return 0


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def main(args: argparse.Namespace) -> int:
    """`outwatch run`."""
    logs.setup(args.log_level, args.log_format)
    try:
        cfg = config_mod.load(args.config)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        runner = asyncio.run
    daemon = Daemon(cfg, args.config)
    try:
        return int(runner(serve(daemon, args.watch_config)))
    except OSError as exc:
        print(f"outwatch: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
