"""CPU per probe result after the probe: pipeline and state machine, decisions, snapshot, store.

Run from the repository root: `python bench/result_path.py [--checks 10000] [--fail-every 50]`.

In-process, no network: the daemon's result path for `--checks` http checks (10 to a service,
as bench/scale.py configures them), one result per check every 30 s of fake time, a flush per
second's worth of results (333 at 10,000 checks) as the daemon's flush loop does: the results
rows, outages and changes, the machine snapshot every tenth flush and with any outage change,
the correlator snapshot when it changed. The store part runs on this thread against a SQLite
file in one temporary directory, with the daemon's SQL. Each room is this thread's CPU time
(time.thread_time), so other load on the machine counts less than in wall time. With
`--fail-every N` one check of every Nth service fails for three rounds in six (outages, incidents,
a campaign). Compare commits by running the same copy of this script in each checkout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import outwatch_config
from monitor import config as config_mod
from monitor.runtime.decisions import Decisions
from monitor.runtime.pipeline import Pipeline
from monitor.store import db as store
from monitor.store import incidents as incident_store
from monitor.store import schema
from probes.base import ProbeResult

PER_FLUSH = 333  # results per 1 s flush at 10,000 checks every 30 s
ROOMS = ("pipeline+state", "decisions", "snapshots (loop)", "store write")


class Run:
    """The daemon's result path over one configuration, timed per room."""

    def __init__(self, checks: int, fail_every: int, tmp: Path) -> None:
        urls = [f"http://127.0.0.1:1/svc/{i}" for i in range(checks)]
        path = tmp / "config.yaml"
        path.write_text(outwatch_config(urls, 1, 30, 10, tmp / "outwatch.db"))
        cfg = config_mod.load(path)
        self.pipe = Pipeline.from_config(cfg.services)
        self.decisions = Decisions(cfg, self.pipe.machine)
        self.db = store._open(str(tmp / "outwatch.db"), 5.0)
        schema.create_all(self.db)
        self.items = [(s.name, c.id, c.kind) for s in cfg.services for c in s.checks]
        self.fail_every = fail_every
        self.ok = ProbeResult(True, None, "200 OK", 0.0012, {"connect": 0.0001}, 200)
        self.bad = ProbeResult(False, "timeout", "timed out after 10s", 10.0, {}, None)
        self.cpu = dict.fromkeys(ROOMS, 0.0)
        self.i = self.flushes = self.outages = self.changes = self.timed = 0

    def feed(self, count: int, timed: bool) -> None:
        """`count` results, flushed every PER_FLUSH."""
        done = 0
        while done < count:
            for _ in range(PER_FLUSH):
                self._one(timed)
            done += PER_FLUSH
            self._flush(timed)

    def _one(self, timed: bool) -> None:
        n, i = len(self.items), self.i
        svc, cid, kind = self.items[i % n]
        failing = self.fail_every and (i % n) % (10 * self.fail_every) == 0
        bad = failing and (i // n // 3) % 2 == 1
        at, mono = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i * 30 / n), i * 30 / n
        a = time.thread_time()
        obs, events = self.pipe.record(svc, cid, kind, self.bad if bad else self.ok, at, mono)
        b = time.thread_time()
        self.decisions.result(obs, events)
        c = time.thread_time()
        if timed:
            self.cpu["pipeline+state"] += b - a
            self.cpu["decisions"] += c - b
            self.timed += 1
        self.i += 1

    def _flush(self, timed: bool) -> None:
        a = time.thread_time()
        results, outages = self.pipe.take_pending()
        changes = self.decisions.take_pending()
        self.flushes += 1
        machine: Any = self.pipe.machine
        due = bool(outages) or self.flushes % 10 == 0
        # the same script on commits before the machine snapshot was kept as text
        text = hasattr(machine, "snapshot_json")
        snap = (machine.snapshot_json() if text else machine.snapshot()) if due else None
        corr = self.decisions.correlator.snapshot() if changes or self.decisions.dirty else None
        self.decisions.dirty = False
        b = time.thread_time()
        with self.db.conn:
            store.insert_results(self.db, results)
            for o in outages:
                store.upsert_outage(self.db, o)
            if snap is not None:
                put: Any = store.put_state_text if text else store.put_state
                put(self.db, "machine", snap)
            incident_store.apply_changes(self.db, changes)
            if corr is not None:
                store.put_state(self.db, incident_store.SNAPSHOT_KEY, corr)
        c = time.thread_time()
        if timed:
            self.cpu["snapshots (loop)"] += b - a
            self.cpu["store write"] += c - b
            self.outages += len(outages)
            self.changes += len(changes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--results", type=int, default=60_000, help="results measured after warm-up")
    ap.add_argument(
        "--fail-every", type=int, default=0, help="one check of every Nth service fails"
    )
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="outwatch-result-path-") as d:
        run = Run(args.checks, args.fail_every, Path(d))
        run.feed(len(run.items), timed=False)  # first results: every check unknown -> up
        run.feed(args.results, timed=True)
        rows = run.db.execute("SELECT count(*) FROM results").fetchone()[0]
        run.db.conn.close()
    r = run.timed
    per = {k: v / r * 1e6 for k, v in run.cpu.items()}
    print(f"{r} results ({rows} rows stored), {run.outages} outage rows, {run.changes} changes")
    print("CPU µs per result: " + "  ".join(f"{k} {v:.1f}" for k, v in per.items()))
    print(f"total {sum(per.values()):.1f} µs per result")
    return 0


if __name__ == "__main__":
    sys.exit(main())
